"""`pathway data ...`: crypto-shredding a person's personal data, and rotating the master keys."""

from typing import Annotated

import typer

from cli import data_return_cli, retention_cli
from cli.case_cli import JsonFlag, StaffOption
from cli.runtime import open_service, open_store, principal_for, print_json, run, settings_from
from domain.access import Action, require_allowed
from store.person_keys import PersonKeys

app = typer.Typer(help="Protect personal data: shred a person, re-wrap data keys, end retention.", no_args_is_help=True)
app.add_typer(retention_cli.app, name="retention")
app.command("return")(data_return_cli.data_return)


@app.command("shred")
def shred(
    ctx: typer.Context,
    person: Annotated[str, typer.Argument(help="A person id (person-...) or the case they belong to (case-...).")],
    reason: Annotated[str, typer.Option(help="Why: e.g. retention period ended, record made in error.")],
    staff: StaffOption,
    as_json: JsonFlag = False,
) -> None:
    """Destroy a person's data key: their personal fields become unreadable everywhere, for good.

    Given a person, every episode of theirs is shredded, and each case must be closed. The record of what
    happened and its hash chain stay; the shredding is itself recorded as an event of each case.
    Shredding again changes nothing and says so."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        async with open_service(settings, reads_only=True) as service:
            done = await service.people.shred(principal, person, reason)
        if as_json:
            print_json(
                {
                    "person_id": done.person_id,
                    "case_id": done.case_id,
                    "shredded_at": done.shredded_at.isoformat(),
                    "already": done.already,
                    "wal_problem": done.wal_problem,
                    "other_cases": list(done.other_cases),
                }
            )
        elif done.already:
            typer.echo(f"{done.person_id} was already shredded at {done.shredded_at.isoformat()}; nothing changed")
        else:
            typer.echo(f"{done.person_id} shredded: the personal data of case {done.case_id} is unreadable for good")
        if done.other_cases and not as_json:
            typer.echo(f"  the person's other episodes, shredded with it: {', '.join(done.other_cases)}")
        if done.wal_problem and not as_json:
            # The key is destroyed in the database, but an old copy may sit in SQLite's write-ahead log
            # until the readers holding it finish: running the command again empties it.
            typer.echo(f"warning: {done.wal_problem}; run the command again to finish", err=True)

    run(command)


@app.command("rewrap")
def rewrap(ctx: typer.Context, staff: StaffOption) -> None:
    """Wrap every person's data key under the newest master key (after adding one to
    PATHWAY_MASTER_KEYS); then the older master keys can be removed. No event is rewritten."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        require_allowed(principal.actor, Action.CONFIGURE)
        async with open_store(settings) as store:
            count = await PersonKeys(store.engine, settings.master_key_ring).rewrap()
        typer.echo(f"{count} data key(s) now wrapped under master key {settings.master_key_ring.current_id}")

    run(command)
