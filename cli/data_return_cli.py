"""`pathway data return`: the monthly data return for the commissioner (docs/data-return.md), as two
CSV files per month, episodes-YYYY-MM.csv and referrals-YYYY-MM.csv, or one workbook per month for a
spreadsheet, data-return-YYYY-MM.xlsx; with no direct identifiers."""

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cli.case_cli import StaffOption
from cli.data_return_workbook import workbook_name, write_workbook
from cli.progress import progress
from cli.runtime import open_service, principal_for, run, settings_from
from domain.access import Action, require_allowed
from domain.data_return import (
    DATA_SET_VERSION,
    EPISODE_FIELDS,
    REFERRAL_FIELDS,
    Month,
    episodes_for,
    file_names,
    months_between,
    pseudonym_key,
    referrals_for,
    to_csv,
)
from domain.errors import Rule, RuleViolation


class ReturnFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


def data_return(
    ctx: typer.Context,
    staff: StaffOption,
    month: Annotated[str, typer.Option(help="The month of the return, YYYY-MM (UK time).")],
    to: Annotated[
        str | None, typer.Option("--to", help="Also every month after --month up to this one (YYYY-MM).")
    ] = None,
    site: Annotated[str | None, typer.Option(help="Only this site (default: every site you work at).")] = None,
    out: Annotated[Path, typer.Option(help="The folder to write the files to.")] = Path("."),
    file_format: Annotated[
        ReturnFormat,
        typer.Option(
            "--format",
            help="csv: two CSV files a month, for programs; xlsx: one workbook a month, for a spreadsheet.",
        ),
    ] = ReturnFormat.CSV,
) -> None:
    """Write the commissioner's monthly data return: one row per episode open at any time in the month
    and one per referral, pseudonymous, versioned (team leads and auditors of the site)."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        require_allowed(principal.actor, Action.EXPORT_DATA_RETURN)
        try:
            months = months_between(Month.parse(month), Month.parse(to if to is not None else month))
        except ValueError as error:
            raise RuleViolation(Rule.BAD_PERIOD, str(error)) from None
        async with open_service(settings, reads_only=True) as service:
            with progress("cases read") as shown:
                found = await service.reports.data_return_streams(principal, site, shown.tick)
        sites, streams = found.sites, found.streams
        key = pseudonym_key(settings.case_id_key)
        out.mkdir(parents=True, exist_ok=True)
        typer.echo(f"data set version {DATA_SET_VERSION}, sites {', '.join(sites) or 'none'}; wrote")
        for period in months:
            episodes = episodes_for(streams, period, key)
            referrals = referrals_for(episodes)
            if file_format is ReturnFormat.XLSX:
                workbook = out / workbook_name(period)
                write_workbook(workbook, (EPISODE_FIELDS, episodes), (REFERRAL_FIELDS, referrals))
                typer.echo(f"  {workbook} ({len(episodes)} episode(s), {len(referrals)} referral(s))")
            else:
                episodes_file, referrals_file = (out / name for name in file_names(period))
                episodes_file.write_text(to_csv(EPISODE_FIELDS, episodes), encoding="utf-8", newline="")
                referrals_file.write_text(to_csv(REFERRAL_FIELDS, referrals), encoding="utf-8", newline="")
                typer.echo(f"  {episodes_file} ({len(episodes)} episode(s))")
                typer.echo(f"  {referrals_file} ({len(referrals)} referral(s))")

    run(command)
