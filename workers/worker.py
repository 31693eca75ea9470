"""The worker: runs CaseWorkflow and the store activities on the case task queue."""

import asyncio
import contextlib
import signal
from datetime import timedelta
from pathlib import Path

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.alerts import AlertActivities
from activities.checkpoints import CheckpointActivities, CheckpointSigner
from activities.court_reports import CourtReportActivities
from activities.fhir_task_poll import FhirTaskPollActivities
from activities.mailer import SmtpMailer
from activities.notifications import NotificationActivities
from activities.referrals import ReferralActivities
from activities.retention import RetentionActivities
from activities.store_activities import StoreActivities
from domain.config import PathwayConfig
from service.gateway import TemporalCaseGateway
from store.event_store import EventStore
from store.keyring import KeyRing
from store.notifications import NotificationLog
from store.person_keys import PersonKeys
from store.sealing import Sealer
from workers.client import connect, connect_store, worker_client
from workers.health import Readiness, health_app, health_server
from workers.logging import configure_logging
from workers.metrics import StoreGauges, exporter_text, free_loopback_address, metrics_runtime
from workers.settings import DEFAULT_MAX_CACHED_WORKFLOWS, Settings
from workflows.registry import WORKFLOWS

log = structlog.get_logger(__name__)


def build_worker(
    client: Client,
    store: EventStore,
    task_queue: str,
    config: PathwayConfig,
    mailer: SmtpMailer | None,
    inbox_url: str,
    master_keys: KeyRing,
    graceful_shutdown: timedelta = timedelta(0),
    checkpoint_signer: CheckpointSigner | None = None,
    max_cached_workflows: int = DEFAULT_MAX_CACHED_WORKFLOWS,
) -> Worker:
    """The worker with every workflow and activity. Without `checkpoint_signer` a scheduled
    checkpoint fails at once, saying why (tests and benchmarks that make none)."""
    outbox = NotificationLog(store.engine)
    keys = PersonKeys(store.engine, master_keys)
    sealer = Sealer(keys)
    retention = RetentionActivities(store, keys, config.retention)
    checkpoints = CheckpointActivities(store, outbox, config.checkpoints, mailer, checkpoint_signer)
    # What FHIR receivers say is recorded by commands to the cases, sent with the worker's own client.
    gateway = TemporalCaseGateway(client=client, store=store, task_queue=task_queue)
    fhir_polls = FhirTaskPollActivities(outbox, store, config, gateway, sealer)
    return Worker(
        worker_client(client),
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[
            StoreActivities(store).append_events,
            NotificationActivities(outbox, config, mailer, inbox_url).notify_staff,
            AlertActivities(outbox, config, mailer, inbox_url).alert_break_glass,
            ReferralActivities(outbox, mailer, inbox_url, sealer, store, config).send_referral,
            CourtReportActivities(outbox, mailer, inbox_url).deliver_court_report,
            retention.find_expired_records,
            retention.shred_expired_records,
            checkpoints.make_checkpoint,
            checkpoints.email_checkpoint,
            fhir_polls.list_fhir_referrals,
            fhir_polls.poll_fhir_service,
        ],
        # On shutdown, in-flight activities get this long to finish before they are cancelled.
        graceful_shutdown_timeout=graceful_shutdown,
        max_cached_workflows=max_cached_workflows,
    )


def mailer_for(settings: Settings) -> SmtpMailer | None:
    if not settings.smtp_host:
        return None
    return SmtpMailer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        use_tls=settings.smtp_starttls,
        username=settings.smtp_username,
        password=settings.smtp_password,
    )


def checkpoint_directory(settings: Settings) -> Path:
    """`[checkpoints] directory`, relative to the data directory; unset, the data directory's
    `checkpoints` (for dev: in production the database's writers could rewrite it)."""
    return settings.data_dir / (settings.pathway_config.checkpoints.directory or "checkpoints")


def worker_from_settings(client: Client, store: EventStore, settings: Settings) -> Worker:
    if not settings.pathway_config.checkpoints.directory and not settings.generate_missing_secrets:
        log.warning(
            "checkpoints are delivered into the data directory: set [checkpoints] directory to one the "
            "database's writers cannot rewrite",
            directory=str(checkpoint_directory(settings)),
        )
    return build_worker(
        client,
        store,
        settings.task_queue,
        settings.pathway_config,
        mailer_for(settings),
        settings.inbox_url,
        settings.master_key_ring,
        timedelta(seconds=settings.graceful_shutdown_seconds),
        # The key `pathway audit checkpoint` signs with: a worker without it stops at start, naming it.
        CheckpointSigner(settings.checkpoint_signing_key, checkpoint_directory(settings)),
        settings.max_cached_workflows,
    )


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Run until `stop` is set, then finish in-flight tasks and return.

    Serves /healthz, /readyz and /metrics on `settings.health_port` throughout: /readyz is 503 until
    the worker polls, and again from the moment `stop` is set, while in-flight activities finish."""
    exporter = settings.metrics_exporter_address or free_loopback_address()
    runtime = metrics_runtime(exporter)
    readiness = Readiness()
    health = health_server(health_app(readiness, lambda: exporter_text(exporter)), settings.health_port)
    serving = asyncio.create_task(health.serve())
    store = connect_store(settings)
    gauges: asyncio.Task[None] | None = None
    try:
        await store.migrate()
        client = await connect(settings, runtime=runtime)
        readiness.store, readiness.client = store, client
        gauges = asyncio.create_task(StoreGauges(store, runtime.metric_meter).run(settings.metrics_refresh_seconds))
        async with worker_from_settings(client, store, settings):
            readiness.polling = True
            log.info("worker started", task_queue=settings.task_queue, namespace=settings.namespace)
            await stop.wait()
            # Not ready before anything stops, so probes and rollouts see it first.
            readiness.stopping = True
            log.info("worker stopping", graceful_shutdown_seconds=settings.graceful_shutdown_seconds)
    finally:
        readiness.stopping = True
        if gauges is not None:
            gauges.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gauges
        await store.close()
        health.should_exit = True
        await serving
    log.info("worker stopped")


async def run_worker_until_signalled(settings: Settings) -> None:
    """The `pathway worker` process: SIGTERM (an orchestrator) or SIGINT (Ctrl-C) starts a graceful stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_worker(settings, stop)


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    asyncio.run(run_worker_until_signalled(settings))
