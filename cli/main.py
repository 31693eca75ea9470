"""The `pathway` command: dev stack, cases, tasks and audit."""

import asyncio
import os
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Annotated

import structlog
import typer

from api.serve import DevLoginRefused, api_server, api_services, check_dev_login
from cli import audit_cli, case_cli, data_cli, person_cli, report_cli, setup_cli, task_cli
from cli.dev import run_dev
from cli.exits import EXIT_STATUSES, usage_error
from cli.fhir_cli import app as fhir_app
from cli.runtime import run, settings_from
from service.identity import issue_dev_token
from workers.bootstrap import service_for
from workers.client import connect, connect_store
from workers.logging import configure_logging
from workers.metrics import exporter_text, free_loopback_address, metrics_runtime
from workers.settings import Settings
from workers.worker import run_worker_until_signalled

log = structlog.get_logger(__name__)

app = typer.Typer(
    help="Pathway: Liaison and Diversion case workflows.",
    epilog=EXIT_STATUSES,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(case_cli.app, name="case")
app.add_typer(task_cli.app, name="task")
app.add_typer(person_cli.app, name="person")
app.add_typer(data_cli.app, name="data")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(fhir_app, name="fhir")
app.command("setup")(setup_cli.setup)
app.command("report")(report_cli.report)


def print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"pathway {version('pathway')}")
        raise typer.Exit()


@app.callback()
def configure(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None, typer.Option(help="Where dev data lives (default .pathway).", envvar="PATHWAY_DATA_DIR")
    ] = None,
    _version: Annotated[
        bool,
        typer.Option("--version", help="Print the installed version and exit.", callback=print_version, is_eager=True),
    ] = False,
) -> None:
    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    configure_logging(settings.log_format, "WARNING" if ctx.invoked_subcommand != "worker" else settings.log_level)
    ctx.obj = settings


@app.command("dev")
def dev(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Temporal server port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal UI port.")] = 8233,
    smtp_port: Annotated[int, typer.Option(help="Port of the local mail sink for notifications.")] = 2525,
    api_port: Annotated[int, typer.Option(help="Port of the API.")] = 8000,
    seed: Annotated[bool, typer.Option(help="Seed demo cases on first start.")] = True,
) -> None:
    """Run the whole stack locally: Temporal dev server and UI, worker, demo cases."""
    settings = settings_from(ctx).model_copy(update={"temporal_address": f"localhost:{port}"})
    configure_logging(settings.log_format, "INFO")
    settings = settings.model_copy(update={"inbox_url": f"http://localhost:{api_port}"})
    asyncio.run(run_dev(settings, port, ui_port, smtp_port, api_port, seed))


@app.command("token")
def token(
    ctx: typer.Context,
    staff: Annotated[str, typer.Option(help="Staff id from the staff directory.")],
    hours: Annotated[float, typer.Option(help="How long it is valid (at most PATHWAY_TOKEN_MAX_HOURS).")] = 8,
) -> None:
    """Print a dev-mode sign-in token for the API, signed with the data directory's secret. It names only
    who you are: your role and sites are the staff directory's."""
    settings = settings_from(ctx)

    async def command() -> None:
        member = settings.pathway_config.staff_member(staff)
        if not 0 < hours <= settings.token_max_hours:
            usage_error(f"--hours must be more than 0 and at most {settings.token_max_hours:g}")
        typer.echo(issue_dev_token(settings.token_secret, member, settings.jwt_issuer, settings.jwt_audience, hours))

    run(command)


@app.command("api")
def api(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    host: Annotated[str, typer.Option(help="Address to listen on: 0.0.0.0 in a container.")] = "127.0.0.1",
    dev_login: Annotated[
        bool,
        typer.Option(
            "--dev-login",
            help="Serve the password-less dev sign-in page (anyone signs in as anyone): loopback addresses only.",
        ),
    ] = False,
) -> None:
    """Serve the API and web pages against the configured Temporal cluster and store (production: people
    sign in through OIDC, PATHWAY_OIDC_JWKS_URL)."""
    settings = settings_from(ctx)
    configure_logging(settings.log_format, settings.log_level)
    try:
        check_sign_in(settings, host, dev_login)
    except DevLoginRefused as refused:
        usage_error(str(refused))
    asyncio.run(_serve_api(settings, host, port, dev_login))


def check_sign_in(settings: Settings, host: str, dev_login: bool) -> None:
    """Refuse a dev sign-in where it must not run, and say at start-up how people sign in."""
    if dev_login:
        check_dev_login(settings, host)
    if settings.oidc_jwks_url:
        log.info("sign-in through OIDC", issuer=settings.jwt_issuer)
    elif dev_login:
        log.warning("the dev sign-in page is served: anyone who reaches it can sign in as any staff member")
    else:
        log.warning(
            "no sign-in page: OIDC is not configured (PATHWAY_OIDC_JWKS_URL) and --dev-login was not given; "
            "only bearer tokens signed with PATHWAY_JWT_SECRET are accepted"
        )


async def _serve_api(settings: Settings, host: str, port: int, dev_login: bool) -> None:
    store = connect_store(settings)
    await store.migrate()
    # The SDK's client metrics (requests to Temporal, their latency) on this process's /metrics.
    exporter = settings.metrics_exporter_address or free_loopback_address()
    client = await connect(settings, runtime=metrics_runtime(exporter))
    pathway = service_for(settings, client, store)
    services = api_services(
        settings, pathway, dev_login=dev_login, host=host, metrics_text=lambda: exporter_text(exporter)
    )
    try:
        await api_server(services, port, host=host).serve()
    finally:
        await store.close()


@app.command("worker")
def worker(ctx: typer.Context) -> None:
    """Run a worker against the configured Temporal cluster and store (production)."""
    settings = settings_from(ctx)
    asyncio.run(run_worker_until_signalled(settings))


def main() -> None:
    try:
        app()
        status = 0
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except KeyboardInterrupt:
        status = 130
    sys.stdout.flush()
    sys.stderr.flush()
    # temporalio's Rust core can abort the interpreter during teardown after a client or worker has
    # run (sdk-python issue #300), turning a success into SIGABRT. Output is flushed and the status
    # known, so leave without interpreter teardown.
    os._exit(status)
