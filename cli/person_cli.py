"""`pathway person ...`: a person's episodes across cases, the people a match task suggests, and linking
an episode to a person seen before (or undoing a wrong link).

As every command, these go through the service (service/people.py) as the person `--as` names: an
episode outside their sites shows only that it exists, when and in which setting."""

from typing import Annotated

import typer

from cli.case_cli import JsonFlag, StaffOption
from cli.runtime import open_service, principal_for, print_json, run, settings_from
from domain.commands import LinkPerson, UnlinkPerson
from domain.state import CaseState
from domain.text_rules import terminal_safe
from service.people import Candidate, Episode

app = typer.Typer(help="A person's episodes across cases: show, link and unlink; reindex.", no_args_is_help=True)

ANOTHER_SERVICE = "another service"


@app.command("show")
def show(
    ctx: typer.Context,
    person: Annotated[str, typer.Argument(help="A person id (person-...) or one of their cases (case-...).")],
    staff: StaffOption,
    as_json: JsonFlag = False,
) -> None:
    """The person's episodes, oldest first: those of your sites in full, others only as "another
    service" with their date and setting (the read is recorded on each episode you see)."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        async with open_service(settings, reads_only=True) as service:
            view = await service.people.show(principal, person)
        if as_json:
            print_json(view)
            return
        typer.echo(f"person {view.person_id}")
        for episode in view.episodes:
            typer.echo(terminal_safe(f"  {episode_line(episode)}"))
        typer.echo(f"{len(view.episodes)} episode(s)")

    run(command)


@app.command("candidates")
def candidates(ctx: typer.Context, task_id: str, staff: StaffOption, as_json: JsonFlag = False) -> None:
    """The people a possible-previous-contact task (person_match) suggests, side by side; confirm one
    with `pathway task complete TASK --outcome '{"same_person_as": "person-..."}'`, or reject them all
    with `{"same_person_as": null}`."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        async with open_service(settings, reads_only=True) as service:
            people = await service.people.candidates(principal, task_id)
        if as_json:
            print_json([c.model_dump(mode="json") for c in people])
            return
        for candidate in people:
            typer.echo(terminal_safe(candidate_line(candidate)))
            for episode in candidate.episodes:
                typer.echo(terminal_safe(f"  {episode_line(episode)}"))
        typer.echo(f"{len(people)} candidate(s)")

    run(command)


@app.command("link")
def link(
    ctx: typer.Context,
    case_id: str,
    to: Annotated[str, typer.Option("--to", help="The person seen before (person-...).")],
    basis: Annotated[str, typer.Option(help="How you know it is the same person (recorded).")],
    staff: StaffOption,
    as_json: JsonFlag = False,
) -> None:
    """Record that the case's episode is of a person seen before, who has an episode in your sites."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        linking = LinkPerson(actor=principal.actor, person_id=to, basis=basis)
        async with open_service(settings) as service:
            state = await service.people.link(principal, case_id, linking)
        _print_change(state, as_json, f"case {state.case_id} is now of {to}")

    run(command)


@app.command("unlink")
def unlink(
    ctx: typer.Context,
    case_id: str,
    reason: Annotated[str, typer.Option(help="Why the link was wrong (recorded).")],
    staff: StaffOption,
    as_json: JsonFlag = False,
) -> None:
    """Undo a wrong link: the case's episode is its own person again."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        unlinking = UnlinkPerson(actor=principal.actor, reason=reason)
        async with open_service(settings) as service:
            state = await service.people.unlink(principal, case_id, unlinking)
        _print_change(state, as_json, f"case {state.case_id} is its own person again ({state.person_id})")

    run(command)


@app.command("reindex")
def reindex(ctx: typer.Context, staff: StaffOption) -> None:
    """Make every episode's person index entries again under the newest index key (after adding one to
    PATHWAY_INDEX_KEYS), from its sealed details; then the older index keys can be removed (admins)."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        async with open_service(settings) as service:
            count = await service.people.reindex(principal)
        typer.echo(f"{count} episode(s) now indexed under index key {settings.index_key_ring.current_id}")

    run(command)


def episode_line(episode: Episode) -> str:
    """One episode on one line; outside the reader's sites only its date and setting."""
    seen = f"{episode.case_id}  {episode.opened_on}  {episode.setting:<20}"
    if not episode.in_scope:
        return f"{seen} {ANOTHER_SERVICE}"
    line = f"{seen} site {episode.site}  {episode.stage} ({'open' if episode.open else 'closed'})"
    details = [
        *([f"needs: {', '.join(episode.needs)}"] if episode.needs else []),
        *([f"referrals: {'; '.join(episode.referrals)}"] if episode.referrals else []),
        *([f"engaged: {'yes' if episode.engaged else 'no'}"] if episode.engaged is not None else []),
    ]
    return "  ".join([line, *details])


def candidate_line(candidate: Candidate) -> str:
    born = f"born {candidate.date_of_birth}" if candidate.date_of_birth else "date of birth not known"
    return f"{candidate.person_id}  {candidate.initials or '-'}  {born}"


def _print_change(state: CaseState, as_json: bool, text: str) -> None:
    """The case's new state as JSON, as every case command answers; else one line."""
    if as_json:
        print_json(state)
    else:
        typer.echo(terminal_safe(text))  # it holds the person id as it was typed
