"""`pathway data return`: the monthly data return for the commissioner (docs/data-return.md), as two
CSV files per month: episodes-YYYY-MM.csv and referrals-YYYY-MM.csv, with no direct identifiers."""

from pathlib import Path
from typing import Annotated

import typer

from cli.case_cli import StaffOption
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


def data_return(
    ctx: typer.Context,
    staff: StaffOption,
    month: Annotated[str, typer.Option(help="The month of the return, YYYY-MM (UK time).")],
    to: Annotated[
        str | None, typer.Option("--to", help="Also every month after --month up to this one (YYYY-MM).")
    ] = None,
    site: Annotated[str | None, typer.Option(help="Only this site (default: every site you work at).")] = None,
    out: Annotated[Path, typer.Option(help="The folder to write the files to.")] = Path("."),
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
            found = await service.reports.data_return_streams(principal, site)
        sites, streams = found.sites, found.streams
        key = pseudonym_key(settings.case_id_key)
        out.mkdir(parents=True, exist_ok=True)
        typer.echo(f"data set version {DATA_SET_VERSION}, sites {', '.join(sites) or 'none'}; wrote")
        for period in months:
            episodes = episodes_for(streams, period, key)
            referrals = referrals_for(episodes)
            episodes_file, referrals_file = (out / name for name in file_names(period))
            episodes_file.write_text(to_csv(EPISODE_FIELDS, episodes), encoding="utf-8", newline="")
            referrals_file.write_text(to_csv(REFERRAL_FIELDS, referrals), encoding="utf-8", newline="")
            typer.echo(f"  {episodes_file} ({len(episodes)} episode(s))")
            typer.echo(f"  {referrals_file} ({len(referrals)} referral(s))")

    run(command)
