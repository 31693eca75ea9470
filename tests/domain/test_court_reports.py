"""Court reports (domain/court.py): requested for a hearing, written by their due time, delivered by
the report's workflow, then the hearing's outcome recorded by a task that opens at the hearing, with
an optional hand-off to RECONNECT. Every refusal is checked by its exact rule id, with the case left
as it was.

The test site is staffed around the clock, with the default 60-minute lead time before a hearing and
secure addresses for the court and probation only.
"""

from datetime import datetime, timedelta

import pytest
from pydantic import JsonValue

from domain.commands import (
    CompleteTask,
    OpenScheduledTask,
    RecordCourtReportDelivered,
    RequestCourtReport,
    WithdrawConsent,
)
from domain.config import SiteConfig
from domain.deadlines import Deadline, pending_deadlines
from domain.decisions import DecisionContext
from domain.events import (
    CaseHandedOff,
    CourtReportDelivered,
    CourtReportRequested,
    CourtReportSubmitted,
    DomainEvent,
    HearingOutcomeRecorded,
    TaskCompleted,
    TaskOpened,
    TaskScheduled,
)
from domain.model import SYSTEM_ACTOR, Actor, Role
from domain.outcomes import (
    ConsentScope,
    CourtReportOutcome,
    CourtReportPurpose,
    HearingOutcome,
    HearingResult,
    LawfulBasis,
    Recipient,
    RiskLevel,
    Urgency,
)
from domain.rules import decide
from domain.state import CourtReport
from domain.tasks import CANDIDATE_ROLES, Task, TaskKind, TaskStatus
from tests.domain.support import (
    AUDITOR,
    LINK_WORKER,
    NOW,
    OPERATOR,
    PRACTITIONER,
    TEAM_LEAD,
    Case,
    consent_declined,
    consent_given,
    dump,
    make_site,
    open_case,
    refused,
)

HEARING = NOW + timedelta(hours=6)
LEAD = timedelta(minutes=60)
HEARING_OUTCOME_SLA = timedelta(hours=24)
ADDRESSES = {Recipient.COURT: "listing@court.test", Recipient.PROBATION: "psr@probation.test"}


# --- helpers ---------------------------------------------------------------------------------------


def types(events: list[DomainEvent]) -> list[str]:
    return [type(event).__name__ for event in events]


def court_site(**changes: object) -> SiteConfig:
    return make_site().model_copy(update={"court_report_addresses": dict(ADDRESSES), **changes})


def request(
    hearing_at: datetime = HEARING,
    due_at: datetime | None = None,
    recipients: tuple[Recipient, ...] = (Recipient.COURT,),
    actor: Actor = PRACTITIONER,
    purpose: CourtReportPurpose = CourtReportPurpose.BAIL_OR_REMAND,
) -> RequestCourtReport:
    return RequestCourtReport(actor=actor, purpose=purpose, hearing_at=hearing_at, recipients=recipients, due_at=due_at)


def report_outcome() -> dict[str, JsonValue]:
    return dump(
        CourtReportOutcome(
            presenting_needs="psychosis, not taking medication",
            risk=RiskLevel.HIGH,
            recommendations="bail with a mental health treatment requirement",
        )
    )


def hearing(
    result: HearingResult = HearingResult.BAIL,
    next_hearing_at: datetime | None = None,
    hand_off: bool = False,
) -> dict[str, JsonValue]:
    return dump(HearingOutcome(result=result, next_hearing_at=next_hearing_at, hand_off_to_reconnect=hand_off))


def requested(events: list[DomainEvent]) -> CourtReportRequested:
    [event] = [e for e in events if isinstance(e, CourtReportRequested)]
    return event


def writing_task(events: list[DomainEvent]) -> Task:
    [task] = [e.task for e in events if isinstance(e, TaskOpened)]
    return task


def hearing_task(events: list[DomainEvent]) -> Task:
    [task] = [e.task for e in events if isinstance(e, TaskScheduled)]
    return task


def the_report(case: Case, report_id: str) -> CourtReport:
    [report] = [r for r in case.state.court_reports if r.report_id == report_id]
    return report


def complete(case: Case, task_id: str, outcome: dict[str, JsonValue], actor: Actor = PRACTITIONER) -> list[DomainEvent]:
    return case.send(CompleteTask(actor=actor, task_id=task_id, outcome=outcome))


def deliver(report_id: str, actor: Actor = SYSTEM_ACTOR) -> RecordCourtReportDelivered:
    return RecordCourtReportDelivered(actor=actor, report_id=report_id, recipients=(Recipient.COURT,))


def open_hearing(case: Case, task: Task) -> list[DomainEvent]:
    assert task.opens_at is not None
    case.now = task.opens_at
    return case.send(OpenScheduledTask(actor=SYSTEM_ACTOR, task_id=task.task_id))


def to_hearing_outcome(case: Case, hearing_at: datetime = HEARING) -> Task:
    """Request a report for `hearing_at`, write it, and open the hearing outcome task; that task."""
    events = case.send(request(hearing_at=hearing_at))
    complete(case, writing_task(events).task_id, report_outcome())
    [opened] = [e.task for e in open_hearing(case, hearing_task(events)) if isinstance(e, TaskOpened)]
    return opened


@pytest.fixture
def court(court_config: SiteConfig) -> Case:
    """A custody case with consent given for assessment and sharing with everyone; screening is open."""
    case = Case(court_config)
    case.send(open_case())
    case.complete(TaskKind.CONSENT, consent_given(*ConsentScope))
    return case


def test_a_report_needs_consent_that_covers_its_recipients(court_config: SiteConfig) -> None:
    case = Case(court_config)
    case.send(open_case())
    case.complete(TaskKind.CONSENT, consent_given(ConsentScope.ASSESSMENT, ConsentScope.SHARE_COURT))
    violation = refused(case, request(recipients=(Recipient.COURT, Recipient.PROBATION)), "report_needs_consent_scope")
    assert "probation" in violation.message and "court" not in violation.message.split(":")[-1]
    assert types(case.send(request(recipients=(Recipient.COURT,))))[0] == "CourtReportRequested"


@pytest.fixture
def court_config() -> SiteConfig:
    return court_site()


# --- requesting a report ---------------------------------------------------------------------------


def test_a_report_is_due_the_lead_time_before_its_hearing(court: Case) -> None:
    events = court.send(request(recipients=(Recipient.COURT, Recipient.PROBATION, Recipient.COURT)))

    assert types(events) == ["CourtReportRequested", "TaskOpened", "TaskScheduled"]
    asked = requested(events)
    assert asked == CourtReportRequested(
        report_id=asked.report_id,
        purpose=CourtReportPurpose.BAIL_OR_REMAND,
        hearing_at=HEARING,
        due_at=HEARING - LEAD,
        recipients=(Recipient.COURT, Recipient.PROBATION),  # duplicates dropped
    )
    write = writing_task(events)
    assert write.kind is TaskKind.COURT_REPORT
    assert write.priority is Urgency.URGENT
    assert write.candidate_roles == CANDIDATE_ROLES[TaskKind.COURT_REPORT]
    assert write.opened_at == NOW
    assert write.due_at == HEARING - LEAD
    assert write.remind_at == write.due_at - timedelta(minutes=60)
    assert write.report_id == asked.report_id
    assert write.status is TaskStatus.OPEN

    assert court.state.court_reports == (
        CourtReport(
            report_id=asked.report_id,
            purpose=CourtReportPurpose.BAIL_OR_REMAND,
            hearing_at=HEARING,
            due_at=HEARING - LEAD,
            recipients=(Recipient.COURT, Recipient.PROBATION),
        ),
    )
    assert court.state.tasks[write.task_id] == write


def test_the_hearing_outcome_task_is_scheduled_at_the_hearing(court: Case) -> None:
    events = court.send(request())
    task = hearing_task(events)
    assert task.kind is TaskKind.HEARING_OUTCOME
    assert task.status is TaskStatus.SCHEDULED
    assert task.opens_at == HEARING
    assert task.opened_at == NOW
    assert task.due_at == HEARING + HEARING_OUTCOME_SLA  # provisional until it opens
    assert task.report_id == requested(events).report_id
    assert task.candidate_roles == CANDIDATE_ROLES[TaskKind.HEARING_OUTCOME]
    assert task.task_id != writing_task(events).task_id
    assert court.state.tasks[task.task_id] == task
    assert Deadline(HEARING, OpenScheduledTask(actor=SYSTEM_ACTOR, task_id=task.task_id)) in pending_deadlines(
        court.state
    )


def test_the_lead_time_is_the_sites() -> None:
    case = Case(court_site(court_report_lead_minutes=180))
    case.send(open_case())
    case.complete(TaskKind.CONSENT, consent_given())
    events = case.send(request())
    assert requested(events).due_at == HEARING - timedelta(hours=3)
    assert writing_task(events).due_at == HEARING - timedelta(hours=3)


@pytest.mark.parametrize("due_at", [NOW + timedelta(minutes=30), HEARING - timedelta(hours=2), HEARING])
def test_an_explicit_due_time_is_kept(court: Case, due_at: datetime) -> None:
    events = court.send(request(due_at=due_at, purpose=CourtReportPurpose.FITNESS_TO_PLEAD_ADVICE))
    assert requested(events).due_at == due_at
    assert requested(events).purpose is CourtReportPurpose.FITNESS_TO_PLEAD_ADVICE
    assert writing_task(events).due_at == due_at
    assert court.state.court_reports[0].due_at == due_at


def test_a_team_lead_may_request_a_report(court: Case) -> None:
    court.send(request(actor=TEAM_LEAD))
    assert len(court.state.court_reports) == 1


@pytest.mark.parametrize("hearing_at", [NOW, NOW - timedelta(minutes=1), NOW - timedelta(days=1)])
def test_a_hearing_in_the_past_is_refused(court: Case, hearing_at: datetime) -> None:
    refused(court, request(hearing_at=hearing_at), "hearing_in_past")


@pytest.mark.parametrize(
    ("hearing_at", "due_at"),
    [
        (NOW + timedelta(minutes=30), None),  # the default lead time puts it 30 minutes ago
        (NOW + LEAD, None),  # due right now
        (HEARING, NOW),
        (HEARING, NOW - timedelta(hours=1)),
    ],
)
def test_a_due_time_in_the_past_is_refused(court: Case, hearing_at: datetime, due_at: datetime | None) -> None:
    refused(court, request(hearing_at=hearing_at, due_at=due_at), "due_in_past")


@pytest.mark.parametrize("after", [timedelta(minutes=1), timedelta(days=1)])
def test_a_report_due_after_its_hearing_is_refused(court: Case, after: timedelta) -> None:
    refused(court, request(due_at=HEARING + after), "due_after_hearing")


@pytest.mark.parametrize(
    "recipients",
    [(Recipient.CPS,), (Recipient.COURT, Recipient.DEFENCE), (Recipient.YOUTH_JUSTICE_SERVICE, Recipient.CPS)],
)
def test_a_recipient_without_an_address_is_refused(court: Case, recipients: tuple[Recipient, ...]) -> None:
    violation = refused(court, request(recipients=recipients), "recipient_without_address")
    for recipient in recipients:
        if recipient not in ADDRESSES:
            assert str(recipient) in violation.message
    assert "court," not in violation.message


def test_a_site_without_court_addresses_cannot_send_reports() -> None:
    case = Case(make_site())
    case.send(open_case())
    case.complete(TaskKind.CONSENT, consent_given())
    refused(case, request(), "recipient_without_address")


def test_a_report_requires_consent(court_config: SiteConfig) -> None:
    case = Case(court_config)
    case.send(open_case())
    refused(case, request(), "report_requires_consent")


def test_a_report_after_consent_declined_is_refused_unless_overridden(court_config: SiteConfig) -> None:
    case = Case(court_config)
    case.send(open_case())
    case.complete(TaskKind.CONSENT, consent_declined(LawfulBasis.SAFEGUARDING))
    assert case.state.consent == "declined"
    events = case.send(request())
    assert types(events) == ["CourtReportRequested", "TaskOpened", "TaskScheduled"]


def test_a_report_after_consent_is_withdrawn_is_refused(court: Case) -> None:
    court.send(WithdrawConsent(actor=PRACTITIONER, reason="changed their mind"))
    refused(court, request(), "report_requires_consent")


@pytest.mark.parametrize(
    "actor",
    [LINK_WORKER, AUDITOR, OPERATOR, SYSTEM_ACTOR, Actor(staff_id="adm", role=Role.ADMIN)],
    ids=lambda a: str(a.role),
)
def test_roles_that_may_not_request_a_report(court: Case, actor: Actor) -> None:
    refused(court, request(actor=actor), "role_not_allowed")


def test_the_role_is_checked_before_consent(court_config: SiteConfig) -> None:
    case = Case(court_config)
    case.send(open_case())
    refused(case, request(actor=LINK_WORKER), "role_not_allowed")


# --- writing the report ----------------------------------------------------------------------------


@pytest.mark.parametrize("written_after", [timedelta(minutes=10), HEARING - LEAD - NOW])
def test_a_report_written_by_its_due_time_is_on_time(court: Case, written_after: timedelta) -> None:
    events = court.send(request())
    report_id = requested(events).report_id
    task = writing_task(events)
    court.advance(seconds=written_after.total_seconds())

    events = complete(court, task.task_id, report_outcome())

    assert types(events) == ["CourtReportSubmitted", "TaskCompleted"]
    assert events[0] == CourtReportSubmitted(
        report_id=report_id,
        on_time=True,
        risk=RiskLevel.HIGH,
        presenting_needs="psychosis, not taking medication",
        recommendations="bail with a mental health treatment requirement",
    )
    assert events[1] == TaskCompleted(task_id=task.task_id)
    report = the_report(court, report_id)
    assert report.submitted_at == court.now
    assert report.on_time is True
    assert report.delivered_to == ()


@pytest.mark.parametrize("late_by", [timedelta(minutes=1), timedelta(hours=3)])
def test_a_report_written_after_its_due_time_is_late(court: Case, late_by: timedelta) -> None:
    events = court.send(request())
    report_id = requested(events).report_id
    court.now = HEARING - LEAD + late_by
    [submitted, _] = complete(court, writing_task(events).task_id, report_outcome())
    assert isinstance(submitted, CourtReportSubmitted)
    assert submitted.on_time is False
    assert the_report(court, report_id).on_time is False


def test_only_practitioners_and_team_leads_write_reports(court: Case) -> None:
    task = writing_task(court.send(request()))
    command = CompleteTask(actor=LINK_WORKER, task_id=task.task_id, outcome=report_outcome())
    refused(court, command, "role_not_allowed")
    complete(court, task.task_id, report_outcome(), TEAM_LEAD)


def test_an_invalid_report_outcome_is_refused(court: Case) -> None:
    task = writing_task(court.send(request()))
    outcome: dict[str, JsonValue] = {"presenting_needs": "x", "risk": "extreme"}
    violation = refused(
        court, CompleteTask(actor=PRACTITIONER, task_id=task.task_id, outcome=outcome), "outcome_invalid"
    )
    assert "recommendations" in violation.message


# --- delivery --------------------------------------------------------------------------------------


def test_delivery_is_recorded_for_a_submitted_report_once(court: Case) -> None:
    events = court.send(request(recipients=(Recipient.COURT, Recipient.PROBATION)))
    report_id = requested(events).report_id

    refused(court, deliver(report_id), "report_not_submitted")

    complete(court, writing_task(events).task_id, report_outcome())
    court.advance(minutes=2)
    command = RecordCourtReportDelivered(
        actor=SYSTEM_ACTOR, report_id=report_id, recipients=(Recipient.COURT, Recipient.PROBATION)
    )
    events = court.send(command)
    assert events == [CourtReportDelivered(report_id=report_id, recipients=(Recipient.COURT, Recipient.PROBATION))]
    assert the_report(court, report_id).delivered_to == (Recipient.COURT, Recipient.PROBATION)

    violation = refused(court, command, "report_already_delivered")
    assert report_id in violation.message


def test_delivery_of_an_unknown_report_is_refused(court: Case) -> None:
    violation = refused(court, deliver("no-such-report"), "report_unknown")
    assert "no-such-report" in violation.message
    court.send(request())
    refused(court, deliver("no-such-report"), "report_unknown")


@pytest.mark.parametrize("actor", [PRACTITIONER, TEAM_LEAD, LINK_WORKER, AUDITOR, OPERATOR], ids=lambda a: str(a.role))
def test_only_the_workflow_records_a_delivery(court: Case, actor: Actor) -> None:
    events = court.send(request())
    complete(court, writing_task(events).task_id, report_outcome())
    refused(court, deliver(requested(events).report_id, actor), "role_not_allowed")


# --- the hearing outcome ---------------------------------------------------------------------------


def test_the_hearing_outcome_task_opens_at_the_hearing_and_keeps_its_report(court: Case) -> None:
    events = court.send(request())
    report_id = requested(events).report_id
    scheduled = hearing_task(events)
    complete(court, writing_task(events).task_id, report_outcome())

    # Not before the hearing, and not completed while scheduled.
    court.now = HEARING - timedelta(minutes=1)
    refused(court, OpenScheduledTask(actor=SYSTEM_ACTOR, task_id=scheduled.task_id), "not_yet_time")
    refused(court, CompleteTask(actor=PRACTITIONER, task_id=scheduled.task_id, outcome=hearing()), "task_not_open")

    events = open_hearing(court, scheduled)
    assert types(events) == ["TaskOpened"]
    opened = writing_task(events)
    assert opened.task_id == scheduled.task_id
    assert opened.kind is TaskKind.HEARING_OUTCOME
    assert opened.status is TaskStatus.OPEN
    assert opened.report_id == report_id
    assert opened.opened_at == HEARING
    assert opened.due_at == HEARING + HEARING_OUTCOME_SLA
    assert court.state.tasks[scheduled.task_id].report_id == report_id
    refused(court, OpenScheduledTask(actor=SYSTEM_ACTOR, task_id=scheduled.task_id), "task_not_scheduled")

    court.advance(hours=2)
    events = complete(court, scheduled.task_id, hearing(HearingResult.BAIL))
    assert types(events) == ["HearingOutcomeRecorded", "TaskCompleted"]
    assert events[0] == HearingOutcomeRecorded(report_id=report_id, result=HearingResult.BAIL)
    assert the_report(court, report_id).hearing_result is HearingResult.BAIL
    assert court.state.handed_off_to is None


def test_the_hearing_outcome_can_be_recorded_even_if_the_report_was_never_written(court: Case) -> None:
    events = court.send(request())
    open_hearing(court, hearing_task(events))
    complete(court, hearing_task(events).task_id, hearing(HearingResult.NO_FURTHER_ACTION))
    report = the_report(court, requested(events).report_id)
    assert report.hearing_result is HearingResult.NO_FURTHER_ACTION
    assert report.submitted_at is None


def test_an_adjourned_hearing_needs_the_next_hearing_time(court: Case) -> None:
    task = to_hearing_outcome(court)
    outcome: dict[str, JsonValue] = {"result": "adjourned"}
    violation = refused(
        court, CompleteTask(actor=PRACTITIONER, task_id=task.task_id, outcome=outcome), "outcome_invalid"
    )
    assert "next hearing" in violation.message

    next_hearing = HEARING + timedelta(days=14)
    events = complete(court, task.task_id, hearing(HearingResult.ADJOURNED, next_hearing_at=next_hearing))
    assert events[0] == HearingOutcomeRecorded(
        report_id=task.report_id or "", result=HearingResult.ADJOURNED, next_hearing_at=next_hearing
    )


@pytest.mark.parametrize(
    "result", [r for r in HearingResult if r not in (HearingResult.REMAND_IN_CUSTODY, HearingResult.CUSTODIAL_SENTENCE)]
)
def test_reconnect_is_only_for_custody(court: Case, result: HearingResult) -> None:
    task = to_hearing_outcome(court)
    outcome: dict[str, JsonValue] = {
        "result": str(result),
        "next_hearing_at": (HEARING + timedelta(days=7)).isoformat(),
        "hand_off_to_reconnect": True,
    }
    violation = refused(
        court, CompleteTask(actor=PRACTITIONER, task_id=task.task_id, outcome=outcome), "outcome_invalid"
    )
    assert "RECONNECT" in violation.message


@pytest.mark.parametrize("result", [HearingResult.REMAND_IN_CUSTODY, HearingResult.CUSTODIAL_SENTENCE])
def test_remand_or_custody_hands_off_to_reconnect(court: Case, result: HearingResult) -> None:
    task = to_hearing_outcome(court)
    events = complete(court, task.task_id, hearing(result, hand_off=True))
    assert types(events)[:2] == ["HearingOutcomeRecorded", "TaskCompleted"]
    [handed_off] = [e for e in events if isinstance(e, CaseHandedOff)]
    assert handed_off == CaseHandedOff(to="reconnect", reason=f"hearing result: {result}")
    assert court.state.handed_off_to == "reconnect"
    assert court.state.is_open  # it moves on to closure (tests/domain/test_reconnect.py), not closed


def test_a_history_from_before_the_hand_off_referred_only_notes_it(court: Case) -> None:
    """Replaying a workflow history recorded before the patch decides as it did then."""
    task = to_hearing_outcome(court)
    command = CompleteTask(
        actor=PRACTITIONER, task_id=task.task_id, outcome=hearing(HearingResult.REMAND_IN_CUSTODY, hand_off=True)
    )
    old = DecisionContext(now=court.now, new_id=court.ids, site=court.site, patched=lambda _name: False)
    events = decide(court.state, command, old)
    assert types(events) == ["HearingOutcomeRecorded", "TaskCompleted", "CaseHandedOff"]


def test_custody_without_a_hand_off_records_none(court: Case) -> None:
    task = to_hearing_outcome(court)
    events = complete(court, task.task_id, hearing(HearingResult.CUSTODIAL_SENTENCE))
    assert types(events) == ["HearingOutcomeRecorded", "TaskCompleted"]
    assert court.state.handed_off_to is None


def test_a_case_is_handed_off_once(court: Case) -> None:
    first = court.send(request(hearing_at=HEARING))
    second = court.send(request(hearing_at=HEARING + timedelta(days=1)))
    open_hearing(court, hearing_task(first))
    complete(court, hearing_task(first).task_id, hearing(HearingResult.REMAND_IN_CUSTODY, hand_off=True))
    assert court.state.handed_off_to == "reconnect"

    later = hearing_task(second)
    open_hearing(court, later)
    command = CompleteTask(
        actor=PRACTITIONER, task_id=later.task_id, outcome=hearing(HearingResult.CUSTODIAL_SENTENCE, hand_off=True)
    )
    violation = refused(court, command, "already_handed_off")
    assert "reconnect" in violation.message

    events = complete(court, later.task_id, hearing(HearingResult.CUSTODIAL_SENTENCE))
    assert types(events) == ["HearingOutcomeRecorded", "TaskCompleted"]
    assert the_report(court, requested(second).report_id).hearing_result is HearingResult.CUSTODIAL_SENTENCE
    handed_off = [env for env in court.envelopes if isinstance(env.event, CaseHandedOff)]
    assert len(handed_off) == 1


# --- several reports on one case ------------------------------------------------------------------


def test_several_reports_on_one_case_keep_their_own_tasks(court: Case) -> None:
    bail = court.send(request(hearing_at=HEARING))
    court.advance(hours=1)
    sentence_hearing = HEARING + timedelta(days=21)
    psr = court.send(
        request(
            hearing_at=sentence_hearing,
            recipients=(Recipient.PROBATION,),
            purpose=CourtReportPurpose.PRE_SENTENCE_REPORT_INPUT,
        )
    )
    bail_id, psr_id = requested(bail).report_id, requested(psr).report_id
    assert bail_id != psr_id
    assert [r.report_id for r in court.state.court_reports] == [bail_id, psr_id]
    assert writing_task(bail).report_id == bail_id
    assert writing_task(psr).report_id == psr_id
    assert hearing_task(bail).report_id == bail_id
    assert hearing_task(psr).report_id == psr_id
    assert writing_task(psr).due_at == sentence_hearing - LEAD
    assert len({writing_task(bail).task_id, writing_task(psr).task_id, hearing_task(bail).task_id}) == 3
    opens = [(d.at, d.command) for d in pending_deadlines(court.state) if isinstance(d.command, OpenScheduledTask)]
    assert opens == [
        (HEARING, OpenScheduledTask(actor=SYSTEM_ACTOR, task_id=hearing_task(bail).task_id)),
        (sentence_hearing, OpenScheduledTask(actor=SYSTEM_ACTOR, task_id=hearing_task(psr).task_id)),
    ]

    # The second report is written first; only it can be delivered.
    complete(court, writing_task(psr).task_id, report_outcome())
    assert the_report(court, psr_id).submitted_at == court.now
    assert the_report(court, bail_id).submitted_at is None
    refused(court, deliver(bail_id), "report_not_submitted")
    court.send(RecordCourtReportDelivered(actor=SYSTEM_ACTOR, report_id=psr_id, recipients=(Recipient.PROBATION,)))
    assert the_report(court, psr_id).delivered_to == (Recipient.PROBATION,)
    assert the_report(court, bail_id).delivered_to == ()

    # Each hearing's outcome goes to its own report.
    open_hearing(court, hearing_task(bail))
    complete(
        court,
        hearing_task(bail).task_id,
        hearing(HearingResult.ADJOURNED, next_hearing_at=sentence_hearing),
    )
    open_hearing(court, hearing_task(psr))
    complete(court, hearing_task(psr).task_id, hearing(HearingResult.COMMUNITY_ORDER_WITH_TREATMENT_REQUIREMENT))
    assert the_report(court, bail_id).hearing_result is HearingResult.ADJOURNED
    assert the_report(court, psr_id).hearing_result is HearingResult.COMMUNITY_ORDER_WITH_TREATMENT_REQUIREMENT
    assert the_report(court, bail_id).on_time is None
    assert the_report(court, psr_id).on_time is True
