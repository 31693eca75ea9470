"""`pathway audit rebuild-projections`: the case and task tables, rebuilt from the events."""

import typer

from cli.case_cli import StaffOption
from cli.progress import progress
from cli.runtime import open_store, principal_for, run, settings_from
from domain.access import Action, require_allowed


def rebuild_projections(ctx: typer.Context, staff: StaffOption) -> None:
    """Drop the case and task tables and fold every case's events again (admins). The events are the
    record: this changes nothing they say. Rows that come out different are listed: the projections
    had drifted from the events (pathway audit verify reports the same)."""
    settings = settings_from(ctx)

    async def command() -> None:
        require_allowed(principal_for(settings, staff).actor, Action.CONFIGURE)
        async with open_store(settings) as store:
            with progress("cases folded") as shown:
                report = await store.rebuild_projections(shown.tick)
        for table, key in report.changed:
            typer.echo(f"  rebuilt differently: {table} {key}")
        same = "identical to" if not report.changed else f"{len(report.changed)} row(s) different from"
        typer.echo(f"rebuilt {report.cases} case(s) and {report.tasks} task(s) from the events, {same} before")

    run(command)
