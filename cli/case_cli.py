"""`pathway case ...`: start, show, list and close cases.

Every command acts as the person `--as` names and goes through the service (service/), as
the API does: the same role x action matrix, the same site scope, the same access log."""

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated

import typer

from cli.exits import remember_json, usage_error
from cli.runtime import open_service, principal_for, print_json, require_site, run, settings_from
from domain.access import Principal
from domain.commands import (
    ChangeCohort,
    CloseCase,
    OpenCase,
    RecordJusticeOutcome,
    RecordReferralOutcome,
    RecordReleaseDate,
    RequestCourtReport,
)
from domain.model import AgeBand, Cohort, Person, ReferralSource, Setting, Sex, Stage
from domain.outcomes import ClosureOutcome, ClosureReason, CourtReportPurpose, JusticeOutcome, Recipient, ReferralStatus
from domain.referral_times import ReferralTimes
from domain.state import CaseState
from domain.text_rules import terminal_safe
from domain.timeline import in_uk, when
from service.cases import CaseChange
from store.records import CaseRecord
from workers.settings import Settings

app = typer.Typer(help="Start, find and close cases.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.", callback=remember_json)]
StaffOption = Annotated[str, typer.Option("--as", help="Your staff id (see the staff list in the config).")]
SiteFilter = Annotated[str | None, typer.Option(help="Only this one of your sites.")]


@app.command("start")
def start(
    ctx: typer.Context,
    site: Annotated[str, typer.Option(help="Site id, e.g. demo.")],
    setting: Annotated[Setting, typer.Option(help="Where the person was identified.")],
    source: Annotated[ReferralSource, typer.Option(help="Who raised the alert.")],
    ref: Annotated[str, typer.Option(help="Custody number or court case number.")],
    staff: StaffOption,
    age_band: Annotated[
        AgeBand | None,
        typer.Option(help="child (10-17) or adult: worked out from --date-of-birth when given, required when not."),
    ] = None,
    cohort: Annotated[list[Cohort] | None, typer.Option(help="Cohort flag; repeat for several.")] = None,
    person_name: Annotated[str | None, typer.Option(help="The person's name.")] = None,
    date_of_birth: Annotated[str | None, typer.Option(help="YYYY-MM-DD.")] = None,
    address: Annotated[str | None, typer.Option()] = None,
    nhs_number: Annotated[str | None, typer.Option(help="Ten digits.")] = None,
    sex: Annotated[Sex | None, typer.Option(help="The person's sex as they state it, if they do.")] = None,
    identified_at: Annotated[
        str | None,
        typer.Option(
            help="When the person was identified (e.g. arrived in custody), ISO 8601; without an offset, UK time. "
            "The SLA counts from it. Default: now."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Open a case for a person identified in custody, at court or in the community.

    Starting the same site and reference again shows the existing case, and says so; once that case
    has reached sentence or disposal the start is refused, naming the service to go to instead."""
    settings = settings_from(ctx)

    async def command() -> None:
        # Everything that can be checked here is checked before anything is sent.
        principal = principal_for(settings, staff)
        settings.pathway_config.site(site)
        person = Person(name=person_name, date_of_birth=_date(date_of_birth), address=address, nhs_number=nhs_number)
        opening = OpenCase(
            actor=principal.actor,
            site=site,
            setting=setting,
            source=source,
            external_ref=ref,
            age_band=age_band,
            cohorts=tuple(cohort or ()),
            person=person,
            sex=sex,
            identified_at=_instant(identified_at) if identified_at else None,
        )
        async with open_service(settings) as service:
            state = await service.cases.start_case(principal, opening)
        if state.found_existing and state.notice and not as_json:
            typer.echo(terminal_safe(f"not opened again: {state.notice}"))
        _print_state(state, as_json)

    run(command)


@app.command("show")
def show(
    ctx: typer.Context,
    case_id: str,
    staff: StaffOption,
    break_glass_reason: Annotated[
        str | None,
        typer.Option(help="Why you must read a case outside your sites; recorded, and the site's team leads are told."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """A case's summary, open tasks and timeline, from the event store (the read is recorded)."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        async with open_service(settings, reads_only=True) as service:
            view = await service.cases.read_case(principal, case_id, break_glass_reason)
        state, events = view.state, view.timeline
        if as_json:
            print_json(
                {
                    "state": state.model_dump(mode="json"),
                    "events": [e.model_dump(mode="json") for e in events],
                    "referral_times": [t.model_dump(mode="json") for t in view.referral_times],
                }
            )
            return
        _print_state(state, as_json=False, referral_times=view.referral_times)
        typer.echo("timeline:")
        for event in events:
            line = f"  {event.seq:>3}  {event.occurred_at:%Y-%m-%d %H:%M:%S}Z  {event.event.type:<28} "
            typer.echo(terminal_safe(line + f"by {event.actor.staff_id} ({event.actor.role})"))

    run(command)


@app.command("list")
def list_cases(
    ctx: typer.Context,
    staff: StaffOption,
    stage: Annotated[Stage | None, typer.Option(help="Only cases at this stage.")] = None,
    site: SiteFilter = None,
    as_json: JsonFlag = False,
) -> None:
    """The cases of your sites from the case index, oldest first."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        require_site(principal, site)
        async with open_service(settings, reads_only=True) as service:
            records = [r for r in await service.cases.cases(principal, stage) if site is None or r.site == site]
        if as_json:
            print_json([r.model_dump(mode="json") for r in records])
            return
        for record in records:
            typer.echo(terminal_safe(_case_line(record)))
        typer.echo(f"{len(records)} case(s)")

    run(command)


@app.command("close")
def close(
    ctx: typer.Context,
    case_id: str,
    reason: Annotated[ClosureReason, typer.Option(help="Why the case closes.")],
    staff: StaffOption,
    justice_outcome: Annotated[JusticeOutcome | None, typer.Option(help="If known.")] = None,
    note: Annotated[str, typer.Option()] = "",
    as_json: JsonFlag = False,
) -> None:
    """Close a case now (open tasks are cancelled)."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        outcome = ClosureOutcome(reason=reason, justice_outcome=justice_outcome, note=note)
        await _change(settings, principal, case_id, CloseCase(actor=principal.actor, outcome=outcome), as_json)

    run(command)


@app.command("date-of-birth")
def date_of_birth(
    ctx: typer.Context,
    case_id: str,
    born: Annotated[str, typer.Option("--date-of-birth", help="YYYY-MM-DD.")],
    staff: StaffOption,
    as_json: JsonFlag = False,
) -> None:
    """Record the person's date of birth, learnt after the case opened: it verifies their age, and if it
    gives the other age band (on the day they were identified) the case moves to that pathway."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        known = _date(born)
        assert known is not None
        async with open_service(settings) as service:
            state = await service.cases.record_date_of_birth(principal, case_id, known)
        _print_state(state, as_json)

    run(command)


@app.command("cohort")
def cohort_change(
    ctx: typer.Context,
    case_id: str,
    cohort: Annotated[Cohort, typer.Option(help="The cohort.")],
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
    staff: StaffOption,
    remove: Annotated[
        bool, typer.Option("--remove", help="Take the person off the cohort (default: put them on).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Put the person on a cohort's pathway (e.g. the women's pathway), or take them off it, saying why."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        change = ChangeCohort(actor=principal.actor, cohort=cohort, member=not remove, reason=reason)
        await _change(settings, principal, case_id, change, as_json)

    run(command)


@app.command("justice-outcome")
def justice_outcome_learnt(
    ctx: typer.Context,
    case_id: str,
    outcome: Annotated[JusticeOutcome, typer.Option(help="What the justice system decided.")],
    staff: StaffOption,
    as_json: JsonFlag = False,
) -> None:
    """Record a justice outcome as the case learns it (a charge, a court's outcome, a sentence). Once it
    is a sentence or disposal, a new identification for the reference is refused."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        await _change(
            settings, principal, case_id, RecordJusticeOutcome(actor=principal.actor, outcome=outcome), as_json
        )

    run(command)


@app.command("release-date")
def release_date(
    ctx: typer.Context,
    case_id: str,
    release_on: Annotated[str, typer.Option(help="YYYY-MM-DD: when the person leaves (or left) custody.")],
    staff: StaffOption,
    as_json: JsonFlag = False,
) -> None:
    """On a RECONNECT episode: record the release date, which schedules the engagement before release
    and the closure when support after it ends. Record it again if it moves."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        try:
            day = date.fromisoformat(release_on)
        except ValueError:
            usage_error(f"release date {release_on!r} is not a date in the form YYYY-MM-DD")
        release = RecordReleaseDate(actor=principal.actor, release_on=day)
        await _change(settings, principal, case_id, release, as_json)

    run(command)


@app.command("referral")
def referral_outcome(
    ctx: typer.Context,
    case_id: str,
    referral_id: str,
    status: Annotated[ReferralStatus, typer.Option(help="What came of the referral.")],
    staff: StaffOption,
    reason: Annotated[str, typer.Option(help="Required when the service rejected it.")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Record what came of a referral: accepted, rejected, attended, engaged, ..."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        answer = RecordReferralOutcome(actor=principal.actor, referral_id=referral_id, status=status, reason=reason)
        await _change(settings, principal, case_id, answer, as_json)

    run(command)


@app.command("court-report")
def court_report(
    ctx: typer.Context,
    case_id: str,
    purpose: Annotated[CourtReportPurpose, typer.Option(help="What the court needs the report for.")],
    hearing_at: Annotated[str, typer.Option(help="Hearing time, ISO 8601; without an offset, UK time.")],
    recipient: Annotated[list[Recipient], typer.Option(help="Who receives it; repeat for several.")],
    staff: StaffOption,
    due_at: Annotated[str | None, typer.Option(help="Default: the site's lead time before the hearing.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Ask for a court report for a hearing (repeat after an adjournment)."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        request = RequestCourtReport(
            actor=principal.actor,
            purpose=purpose,
            hearing_at=_instant(hearing_at),
            recipients=tuple(recipient),
            due_at=_instant(due_at) if due_at else None,
        )
        await _change(settings, principal, case_id, request, as_json)

    run(command)


async def _change(settings: Settings, principal: Principal, case_id: str, change: CaseChange, as_json: bool) -> None:
    async with open_service(settings) as service:
        state = await service.cases.change_case(principal, case_id, change)
    _print_state(state, as_json)


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        usage_error(f"{text!r} is not a time in ISO 8601 form, e.g. 2026-12-01T10:00")
    return in_uk(value)  # UK courts and custody suites: a time without an offset is UK local time


def _date(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        usage_error(f"date of birth {text!r} is not a date in the form YYYY-MM-DD")
    return None


def _case_line(record: CaseRecord) -> str:
    due = f"{record.next_due:%Y-%m-%d %H:%M}Z" if record.next_due else "-"
    overdue = "OVERDUE" if record.overdue else ""
    return f"{record.case_id}  {record.stage:<20} {record.site:<8} {record.setting:<20} next due {due} {overdue}"


def _print_state(state: CaseState, as_json: bool, referral_times: Sequence[ReferralTimes] = ()) -> None:
    if as_json:
        print_json(state)
        return
    # Lines holding text someone typed (a site, a service id) go through terminal_safe, so a control
    # character stored in one is shown, never sent to the terminal.
    typer.echo(f"case {state.case_id}")
    age = f"{state.age_band}{' (age not verified)' if state.age_verified is False else ''}"
    typer.echo(terminal_safe(f"  stage {state.stage}, site {state.site}, setting {state.setting}, {age}"))
    if state.identified_at and state.opened_at and state.identified_at != state.opened_at:
        typer.echo(f"  identified {when(state.identified_at)}, recorded {when(state.opened_at)} (UK time)")
    if state.cohorts:
        typer.echo(f"  cohorts: {', '.join(state.cohorts)}")
    typer.echo(f"  consent: {state.consent}{' (safeguarding override)' if state.safeguarding_override else ''}")
    if state.close_reason:
        typer.echo(f"  closed: {state.close_reason}; justice outcome: {state.justice_outcome or 'not known'}")
    times = {t.referral_id: t for t in referral_times}
    for referral in state.referrals:
        line = f"  referral {referral.referral_id}  {referral.request.service_id}  {referral.status}"
        typer.echo(terminal_safe(line + ("  (could not be sent)" if referral.send_failed else "")))
        if referral.referral_id in times:
            typer.echo(f"    {_chase_line(times[referral.referral_id])}")
    for report in state.court_reports:
        done = "submitted" if report.submitted_at else f"due {report.due_at:%Y-%m-%d %H:%M}Z"
        result = f", hearing: {report.hearing_result}" if report.hearing_result else ""
        typer.echo(f"  court report {report.report_id}  {report.purpose}  {done}{result}")
    if state.support:
        ended = (
            f"ended ({state.support.end_reason})"
            if state.support.ended_at
            else f"until {state.support.ends_at:%Y-%m-%d}"
        )
        typer.echo(f"  link work: {', '.join(state.support.goals)}; {state.support.contacts} contacts; {ended}")
    if state.handed_off_to:
        typer.echo(terminal_safe(f"  handed off to {state.handed_off_to}"))
    for task in state.open_tasks:
        flag = " OVERDUE" if task.overdue else ""
        typer.echo(
            f"  open task {task.task_id}  {task.kind:<18} due {task.due_at:%Y-%m-%d %H:%M}Z  "
            f"{task.priority}  assignee {task.assignee or '-'}{flag}"
        )


def _chase_line(times: ReferralTimes) -> str:
    """When the referral is (or was to be) chased and escalated, and which comes next."""
    chase, escalate = f"{times.chase_at:%Y-%m-%d %H:%M}Z", f"{times.escalate_at:%Y-%m-%d %H:%M}Z"
    match times.next_step:
        case "chase":
            return f"unanswered: chased at {chase}, escalated at {escalate}"
        case "escalation":
            return f"chased; escalated at {escalate} if still unanswered"
    # Answered, escalated already, or the case has closed: the times stand, nothing waits for them.
    return f"chase time {chase}, escalation time {escalate} (no longer waited for)"
