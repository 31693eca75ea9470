"""The worker: runs CaseWorkflow and the store activities on the case task queue."""

import asyncio

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.court_reports import CourtReportActivities
from activities.mailer import SmtpMailer
from activities.notifications import NotificationActivities
from activities.referrals import ReferralActivities
from activities.retention import RetentionActivities
from activities.store_activities import StoreActivities
from domain.config import PathwayConfig
from store.event_store import EventStore
from store.keyring import KeyRing
from store.notifications import NotificationLog
from store.person_keys import PersonKeys, Sealer
from workers.client import connect
from workers.logging import configure_logging
from workers.settings import Settings
from workflows.case_workflow import CaseWorkflow
from workflows.court_report_workflow import CourtReportWorkflow
from workflows.referral_workflow import ReferralWorkflow
from workflows.retention_workflow import RetentionWorkflow

log = structlog.get_logger(__name__)

# Every workflow type the worker runs; replays (`pathway audit replay`, the golden histories) use the same list.
WORKFLOWS = [CaseWorkflow, ReferralWorkflow, CourtReportWorkflow, RetentionWorkflow]


def build_worker(
    client: Client,
    store: EventStore,
    task_queue: str,
    config: PathwayConfig,
    mailer: SmtpMailer | None,
    inbox_url: str,
    master_keys: KeyRing,
) -> Worker:
    outbox = NotificationLog(store.engine)
    keys = PersonKeys(store.engine, master_keys)
    sealer = Sealer(keys)
    retention = RetentionActivities(store, keys, config.retention)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[
            StoreActivities(store).append_events,
            NotificationActivities(outbox, config, mailer, inbox_url).notify_staff,
            ReferralActivities(outbox, mailer, inbox_url, sealer).send_referral,
            CourtReportActivities(outbox, mailer, inbox_url).deliver_court_report,
            retention.find_expired_records,
            retention.shred_expired_records,
        ],
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


def worker_from_settings(client: Client, store: EventStore, settings: Settings) -> Worker:
    return build_worker(
        client,
        store,
        settings.task_queue,
        settings.pathway_config,
        mailer_for(settings),
        settings.inbox_url,
        settings.master_key_ring,
    )


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Run until `stop` is set, then finish in-flight tasks and return."""
    store = EventStore.connect(settings.store_url)
    await store.migrate()
    client = await connect(settings)
    try:
        async with worker_from_settings(client, store, settings):
            log.info("worker started", task_queue=settings.task_queue, namespace=settings.namespace)
            await stop.wait()
    finally:
        await store.close()
    log.info("worker stopped")


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    asyncio.run(run_worker(settings, asyncio.Event()))
