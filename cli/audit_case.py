"""`pathway audit timeline`, `pathway audit person` and `pathway audit export`: a case's story for
auditors, as it stands or as it was known at a moment; a person's whole story across their episodes;
and the whole record as files for a subject access request or a court."""

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from api.documents import PdfUnavailable, export_html, html_to_pdf, timeline_html
from cli.case_cli import StaffOption
from cli.exits import fail, remember_format
from cli.person_cli import episode_line
from cli.runtime import open_service, principal_for, print_json, run, settings_from
from domain.text_rules import terminal_safe
from domain.timeline import TimelineEntry, in_uk, when, words
from service.audit import CaseTimeline, PersonTimeline


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"
    HTML = "html"


def timeline(
    ctx: typer.Context,
    case_id: str,
    staff: StaffOption,
    as_of: Annotated[
        datetime | None,
        typer.Option(help="The record as it was known at this time (UK time unless a zone is given)."),
    ] = None,
    output: Annotated[
        Format, typer.Option("--format", help="How to print it.", callback=remember_format)
    ] = Format.TEXT,
) -> None:
    """Every event of a case in order, with time, actor, role and what happened; with --as-of, the
    case exactly as the record held it then (auditors; the read is recorded)."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        async with open_service(settings, reads_only=True) as service:
            found = await service.audit.timeline(principal, case_id, in_uk(as_of))
        if output is Format.JSON:
            print_json(found)
        elif output is Format.HTML:
            # Escaped HTML still holds what people wrote, control characters and all.
            typer.echo(terminal_safe(timeline_html(found), keep_line_breaks=True))
        else:
            _print_timeline(found)

    run(command)


def person(
    ctx: typer.Context,
    person_or_case: Annotated[str, typer.Argument(help="A person (person-...) or one of their cases (case-...).")],
    staff: StaffOption,
    output: Annotated[
        Format, typer.Option("--format", help="How to print it (text or json).", callback=remember_format)
    ] = Format.TEXT,
) -> None:
    """A person's whole story: their episodes, and the events of those in your sites merged in time
    order, each line naming its episode; an episode elsewhere shows only as "another service"
    (auditors; the read is recorded on each episode read)."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        async with open_service(settings, reads_only=True) as service:
            found = await service.audit.person_timeline(principal, person_or_case)
        if output is Format.TEXT:
            _print_story(found)
        elif output is Format.JSON:
            print_json(found)
        else:
            fail("the person's timeline prints as text or json")

    run(command)


def export(
    ctx: typer.Context,
    case_id: str,
    staff: StaffOption,
    purpose: Annotated[str, typer.Option(help="Why: e.g. subject access request, court order 123.")],
    out: Annotated[Path, typer.Option(help="The folder to write the files to.")] = Path("."),
    pdf: Annotated[bool, typer.Option("--pdf", help="Also print the document to PDF (needs Chromium).")] = False,
) -> None:
    """The whole record of a case (state, timeline, access log and whether it verifies) as JSON and a
    readable HTML document, and PDF with --pdf (auditors; the export is recorded with its purpose)."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        async with open_service(settings, reads_only=True) as service:
            bundle = await service.audit.export(principal, case_id, purpose)
        out.mkdir(parents=True, exist_ok=True)
        document = export_html(bundle)
        written = [out / f"{case_id}.json", out / f"{case_id}.html"]
        written[0].write_text(bundle.model_dump_json(indent=2) + "\n", encoding="utf-8")
        written[1].write_text(document, encoding="utf-8")
        if pdf:
            try:
                (out / f"{case_id}.pdf").write_bytes(await html_to_pdf(document))
            except PdfUnavailable as unavailable:
                fail(f"{unavailable} (the JSON and HTML were written)")
            written.append(out / f"{case_id}.pdf")
        integrity = bundle.integrity
        verdict = "verifies" if integrity.chain_ok and integrity.access_log.ok else "DOES NOT VERIFY"
        typer.echo(f"case {case_id}: {len(bundle.timeline)} events, record {verdict}; wrote")
        for path in written:
            typer.echo(f"  {path}")

    run(command)


def _print_timeline(found: CaseTimeline) -> None:
    # What people wrote is printed through terminal_safe: a stored escape sequence must show as text,
    # never clear the auditor's screen or hide the lines after it.
    state = found.state
    moment = f"as known at {when(found.as_of)}" if found.as_of else "as it stands"
    typer.echo(terminal_safe(f"case {found.case_id} {moment}: {words(state.stage or 'not opened')} at {state.site}"))
    for entry in found.entries:
        _print_entry(entry)
    typer.echo(f"{len(found.entries)} event(s)")


def _print_story(found: PersonTimeline) -> None:
    # An episode outside the auditor's sites is listed as "another service"; its events are not read.
    typer.echo(f"person {found.person_id}: {len(found.episodes)} episode(s)")
    for episode in found.episodes:
        typer.echo(terminal_safe(f"  {episode_line(episode)}"))
    for entry in found.entries:
        _print_entry(entry, f"{entry.case_id}  ")
    typer.echo(f"{len(found.entries)} event(s)")


def _print_entry(entry: TimelineEntry, episode: str = "") -> None:
    typer.echo(
        terminal_safe(
            f"{entry.seq:>4}  {when(entry.occurred_at)}  {episode}{entry.actor.staff_id} "
            f"({words(entry.actor.role)})  {entry.description}"
        )
    )
    for line in entry.written.splitlines():
        typer.echo(f"        > {terminal_safe(line)}")
