"""`pathway report`: the service report of a period (issue 8), as text, CSV, HTML or JSON, read from
the store alone (no Temporal needed)."""

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import typer

from api.reports import period_from, report_html
from cli.case_cli import StaffOption
from cli.exits import remember_format, usage_error
from cli.progress import progress
from cli.runtime import open_service, principal_for, run, settings_from
from domain.reporting import report_text, table_csv

Format = Literal["text", "csv", "html", "json"]


def report(
    ctx: typer.Context,
    staff: StaffOption,
    period: Annotated[str | None, typer.Option(help="A month, YYYY-MM (default: the current month).")] = None,
    first: Annotated[datetime | None, typer.Option("--from", help="First day (UK time), with --to.")] = None,
    last: Annotated[datetime | None, typer.Option("--to", help="Last day (UK time), inclusive.")] = None,
    site: Annotated[str | None, typer.Option(help="One of your sites (default: all of them).")] = None,
    format: Annotated[
        str, typer.Option("--format", help="text, csv, html or json.", callback=remember_format)
    ] = "text",
    out: Annotated[
        Path | None,
        typer.Option(help="Write here instead of printing: a file, or for csv a folder with one CSV per table."),
    ] = None,
) -> None:
    """The service report of a period, by site, setting, cohort and age band (team leads, auditors)."""
    settings = settings_from(ctx)
    if format not in ("text", "csv", "html", "json"):
        usage_error(f"--format is text, csv, html or json, not {format!r}")

    async def command() -> None:
        principal = principal_for(settings, staff)
        chosen = period_from(period, first.date() if first else None, last.date() if last else None)
        async with open_service(settings, reads_only=True) as service:
            with progress("cases read") as shown:
                found = await service.reports.report(principal, chosen, site, shown.tick)
        if format == "csv":
            tables = found.tables()
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                for table in tables:
                    (out / f"{table.name}.csv").write_text(table_csv(table), encoding="utf-8")
                typer.echo(f"{len(tables)} tables written to {out}: " + ", ".join(f"{t.name}.csv" for t in tables))
                return
            text = "\n".join(f"# {table.name}\n{table_csv(table)}" for table in tables)
        elif format == "html":
            text = report_html(found)
        elif format == "json":
            text = found.model_dump_json(indent=2) + "\n"
        else:
            text = report_text(found)
        if out is not None:
            out.write_text(text, encoding="utf-8")
            typer.echo(f"report written to {out}")
        else:
            sys.stdout.write(text)

    run(command)
