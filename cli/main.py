"""The `pathway` command: dev stack, cases, tasks and audit."""

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from api.auth import issue_dev_token
from api.serve import api_server
from cli import audit_cli, case_cli, data_cli, report_cli, setup_cli, task_cli
from cli.dev import run_dev
from cli.fhir_cli import app as fhir_app
from cli.runtime import settings_from
from domain.model import Role
from workers.cases import commands_for
from workers.client import connect, connect_store
from workers.logging import configure_logging
from workers.metrics import exporter_text, free_loopback_address, metrics_runtime
from workers.settings import Settings
from workers.worker import run_worker_until_signalled

app = typer.Typer(
    help="Pathway: Liaison and Diversion case workflows.", no_args_is_help=True, pretty_exceptions_enable=False
)
app.add_typer(case_cli.app, name="case")
app.add_typer(task_cli.app, name="task")
app.add_typer(data_cli.app, name="data")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(fhir_app, name="fhir")
app.command("setup")(setup_cli.setup)
app.command("report")(report_cli.report)


@app.callback()
def configure(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None, typer.Option(help="Where dev data lives (default .pathway).", envvar="PATHWAY_DATA_DIR")
    ] = None,
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
    staff: Annotated[str, typer.Option(help="Staff id.")],
    role: Annotated[Role, typer.Option(help="Role.")],
    site: Annotated[list[str], typer.Option(help="A site the person works at; repeat for several.")],
    hours: Annotated[int, typer.Option(help="How long it is valid.")] = 12,
) -> None:
    """Print a dev-mode sign-in token (signed with the data directory's secret) for the API."""
    settings = settings_from(ctx)
    typer.echo(
        issue_dev_token(
            settings.token_secret, staff, role, tuple(site), settings.jwt_issuer, settings.jwt_audience, hours
        )
    )


@app.command("api")
def api(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    host: Annotated[str, typer.Option(help="Address to listen on: 0.0.0.0 in a container.")] = "127.0.0.1",
) -> None:
    """Serve the API against the configured Temporal cluster and store (production)."""
    settings = settings_from(ctx)
    asyncio.run(_serve_api(settings, host, port))


async def _serve_api(settings: Settings, host: str, port: int) -> None:
    store = connect_store(settings)
    await store.migrate()
    # The SDK's client metrics (requests to Temporal, their latency) on this process's /metrics.
    exporter = settings.metrics_exporter_address or free_loopback_address()
    client = await connect(settings, runtime=metrics_runtime(exporter))
    commands = commands_for(client, store, settings)
    try:
        await api_server(settings, commands, port, lambda: exporter_text(exporter), host=host).serve()
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
