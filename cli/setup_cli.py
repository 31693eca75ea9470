"""`pathway setup`: an operator's deploy step that prepares a Temporal cluster for Pathway.

It needs only Temporal (no store, no staff id): the namespace with its retention, the search
attributes the Temporal UI's saved views filter on, the daily retention schedule, the checkpoint
schedule and the FHIR poll schedule. Running it again changes nothing that is already right, and says what it found."""

from typing import Annotated

import typer
from temporalio.service import RPCError

from cli.exits import fail, usage_error
from cli.runtime import connect_temporal, run, settings_from
from workers.temporal_setup import DEFAULT_RETENTION_DAYS, setup_temporal


def setup(
    ctx: typer.Context,
    namespace: Annotated[
        str | None, typer.Option(help="Namespace to prepare (default: PATHWAY_NAMESPACE, else `default`).")
    ] = None,
    retention_days: Annotated[
        int | None,
        typer.Option(
            min=1,
            help=(
                "Days Temporal keeps a closed workflow's history. Used when the namespace is created "
                f"(default {DEFAULT_RETENTION_DAYS}); on an existing namespace the retention changes only if given."
            ),
        ),
    ] = None,
) -> None:
    """Create the namespace if missing, add missing search attributes and keep the retention, checkpoint
    and FHIR poll schedules; idempotent."""
    settings = settings_from(ctx)
    if namespace is not None:
        settings = settings.model_copy(update={"namespace": namespace})

    async def command() -> None:
        client = await connect_temporal(settings)
        try:
            config = settings.pathway_config
            report = await setup_temporal(
                client,
                settings.task_queue,
                config.retention,
                config.checkpoints,
                config.fhir_poll,
                retention_days=retention_days,
            )
        except ValueError as error:
            usage_error(str(error))
        except RPCError as error:
            fail(f"Temporal at {settings.temporal_address} refused the setup: {error.message}")
        typer.echo(f"Temporal at {settings.temporal_address}, namespace {report.namespace}:")
        for line in report.lines():
            typer.echo(f"  {line}")

    run(command)
