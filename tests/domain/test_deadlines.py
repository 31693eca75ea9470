"""Reminders before a task is due and escalations after: when they are set, when the rules accept the
timer commands, and the deadlines (domain/deadlines.py) the case workflow sleeps until.

The test site (tests/domain/support.py) is staffed around the clock with the default reminder times:
a custody consent task is due 120 minutes after identification and reminded 30 minutes before.
"""

from datetime import UTC, datetime, timedelta

import pytest

from domain.commands import Command, EscalateTask, MarkOverdue, SendReminder
from domain.config import SiteConfig
from domain.deadlines import Deadline, commands_due, next_deadline, pending_deadlines
from domain.errors import RuleViolation
from domain.events import DomainEvent, ReminderSent, TaskEscalated, TaskOpened
from domain.model import SYSTEM_ACTOR, Actor, Role, Setting
from domain.tasks import Task, TaskKind, TaskStatus
from tests.domain.support import (
    AUDITOR,
    NOW,
    OPERATOR,
    PRACTITIONER,
    TEAM_LEAD,
    Case,
    assessment,
    consent_declined,
    consent_given,
    make_site,
    open_case,
    screening,
)

CONSENT_SLA = timedelta(minutes=120)  # custody screening SLA on the 24/7 test site
CONSENT_REMINDER = timedelta(minutes=30)
ESCALATE_AFTER = timedelta(minutes=15)
NON_SYSTEM_ACTORS = [PRACTITIONER, TEAM_LEAD, AUDITOR, OPERATOR, Actor(staff_id="pathway", role=Role.ADMIN)]


def with_escalation(site: SiteConfig, minutes: int = 15) -> SiteConfig:
    return site.model_copy(update={"escalate_after_minutes": minutes})


def opened_task(events: list[DomainEvent]) -> Task:
    [task] = [event.task for event in events if isinstance(event, TaskOpened)]
    return task


def refused(case: Case, command: Command) -> RuleViolation:
    """Send `command`, expect a refusal, and check that nothing about the case changed."""
    before = case.state.model_copy(deep=True)
    recorded = len(case.envelopes)
    with pytest.raises(RuleViolation) as caught:
        case.send(command)
    assert case.state == before
    assert len(case.envelopes) == recorded
    return caught.value


def remind(task: Task, actor: Actor = SYSTEM_ACTOR) -> SendReminder:
    return SendReminder(actor=actor, task_id=task.task_id)


def escalate(task: Task, actor: Actor = SYSTEM_ACTOR) -> EscalateTask:
    return EscalateTask(actor=actor, task_id=task.task_id)


def overdue(task: Task) -> MarkOverdue:
    return MarkOverdue(actor=SYSTEM_ACTOR, task_id=task.task_id)


def described(deadlines: list[Deadline]) -> list[tuple[datetime, str, str]]:
    return [(d.at, type(d.command).__name__, getattr(d.command, "task_id", "")) for d in deadlines]


def names(commands: list[Command]) -> list[str]:
    return [type(command).__name__ for command in commands]


def run_timers(case: Case) -> list[str]:
    """What the case workflow does when it wakes: send the earliest due command, then look again.
    Every command commands_due offers must be accepted (a refusal would fail the workflow task)."""
    sent: list[str] = []
    for _ in range(100):
        due = commands_due(case.state, case.now)
        if not due:
            return sent
        events = case.send(due[0])
        assert events, f"{due[0]} recorded nothing"
        sent.extend(type(event).__name__ for event in events)
    raise AssertionError(f"the timer loop did not settle: {sent}")


@pytest.fixture
def escalating() -> Case:
    """An opened custody case on a site that escalates 15 minutes after a task is due."""
    case = Case(with_escalation(make_site()))
    case.send(open_case())
    return case


# --- reminder and escalation times, set when a task opens ----------------------------------------


def test_consent_task_opens_with_reminder_and_escalation_times(case: Case) -> None:
    task = opened_task(case.send(open_case()))

    assert task.due_at == NOW + CONSENT_SLA
    assert task.remind_at == task.due_at - CONSENT_REMINDER == NOW + timedelta(minutes=90)
    # The test site escalates as soon as the due time passes (escalate_after_minutes defaults to 0).
    assert task.escalate_at == task.due_at
    assert not task.reminded and not task.escalated and not task.overdue
    assert case.state.tasks[task.task_id] == task


def test_escalation_time_is_due_time_plus_the_site_setting() -> None:
    case = Case(with_escalation(make_site(), minutes=45))
    task = opened_task(case.send(open_case()))
    assert task.escalate_at == task.due_at + timedelta(minutes=45)
    assert task.remind_at == task.due_at - CONSENT_REMINDER


@pytest.mark.parametrize(
    ("setting", "sla_minutes"),
    [(Setting.CUSTODY, 120), (Setting.MAGISTRATES_COURT, 180), (Setting.CROWN_COURT, 180)],
)
def test_reminder_counts_back_from_the_setting_sla(case: Case, setting: Setting, sla_minutes: int) -> None:
    task = opened_task(case.send(open_case(setting=setting)))
    assert task.due_at == NOW + timedelta(minutes=sla_minutes)
    assert task.remind_at == NOW + timedelta(minutes=sla_minutes - 30)


def test_screening_task_opened_early_keeps_a_reminder_before_the_inherited_due_time(opened: Case) -> None:
    consent = opened.task(TaskKind.CONSENT)
    opened.advance(minutes=20)

    task = opened_task(opened.complete(TaskKind.CONSENT, consent_given()))

    assert task.kind is TaskKind.SCREENING
    assert task.due_at == consent.due_at  # screening inherits the consent due time
    assert task.remind_at == consent.due_at - timedelta(minutes=30)
    assert task.escalate_at == consent.due_at
    assert task.opened_at == NOW + timedelta(minutes=20)


@pytest.mark.parametrize("minutes_after_opening", [90, 100, 119])
def test_screening_task_opened_inside_the_reminder_window_has_no_reminder(
    opened: Case, minutes_after_opening: int
) -> None:
    consent = opened.task(TaskKind.CONSENT)
    opened.advance(minutes=minutes_after_opening)

    task = opened_task(opened.complete(TaskKind.CONSENT, consent_given()))

    assert task.due_at == consent.due_at
    assert task.remind_at is None  # the reminder time is not after the opening time
    assert task.escalate_at == consent.due_at
    reminders = [d for d in pending_deadlines(opened.state) if isinstance(d.command, SendReminder)]
    assert reminders == []
    assert refused(opened, remind(task)).rule == "no_such_deadline"
    # Its due time and escalation still come.
    opened.now = task.due_at
    assert run_timers(opened) == ["TaskBecameOverdue", "TaskEscalated"]


def test_screening_task_opened_after_the_inherited_due_time_is_due_at_once(opened: Case) -> None:
    consent = opened.task(TaskKind.CONSENT)
    opened.now = consent.due_at
    assert run_timers(opened) == ["TaskBecameOverdue", "TaskEscalated"]
    opened.advance(minutes=10)

    task = opened_task(opened.complete(TaskKind.CONSENT, consent_given()))

    assert task.due_at == consent.due_at < opened.now
    assert task.remind_at is None
    assert commands_due(opened.state, opened.now) == [overdue(task), escalate(task)]


def test_later_tasks_get_their_own_kind_of_reminder(consented: Case) -> None:
    consented.advance(minutes=10)
    task = opened_task(consented.complete(TaskKind.SCREENING, screening(assessment_needed=True)))

    assert task.kind is TaskKind.ASSESSMENT
    assert task.due_at == NOW + timedelta(minutes=10, hours=24)
    assert task.remind_at == task.due_at - timedelta(minutes=120)  # the assessment default
    assert task.escalate_at == task.due_at


def test_configured_reminder_times_are_used() -> None:
    site = make_site().model_copy(update={"reminder_before_minutes": {TaskKind.CONSENT: 119}})
    case = Case(site)
    task = opened_task(case.send(open_case()))
    assert task.remind_at == NOW + timedelta(minutes=1)


@pytest.mark.parametrize("reminder_minutes", [120, 121, 600])
def test_no_reminder_when_the_reminder_time_is_not_after_opening(reminder_minutes: int) -> None:
    site = make_site().model_copy(update={"reminder_before_minutes": {TaskKind.CONSENT: reminder_minutes}})
    case = Case(site)
    task = opened_task(case.send(open_case()))
    assert task.remind_at is None
    assert task.escalate_at == task.due_at
    assert names([d.command for d in pending_deadlines(case.state)]) == ["MarkOverdue", "EscalateTask"]


def test_a_kind_missing_from_the_site_reminders_falls_back_to_the_default() -> None:
    site = make_site().model_copy(update={"reminder_before_minutes": {TaskKind.SCREENING: 5}})
    case = Case(site)
    task = opened_task(case.send(open_case()))
    assert task.remind_at == task.due_at - timedelta(minutes=30)


def test_reminder_on_an_office_hours_site(office_site: SiteConfig) -> None:
    friday_afternoon = datetime(2026, 3, 6, 16, 30, tzinfo=UTC)  # London is on GMT in early March
    case = Case(office_site, now=friday_afternoon)
    task = opened_task(case.send(open_case()))
    # 30 service minutes on Friday, 90 on Monday from 09:00.
    assert task.due_at == datetime(2026, 3, 9, 10, 30, tzinfo=UTC)
    assert task.remind_at == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
    assert task.escalate_at == task.due_at


# --- SendReminder ----------------------------------------------------------------------------------


def test_reminder_refused_before_its_time_and_accepted_from_it(opened: Case) -> None:
    task = opened.task(TaskKind.CONSENT)
    assert task.remind_at is not None

    opened.now = task.remind_at - timedelta(seconds=1)
    violation = refused(opened, remind(task))
    assert violation.rule == "not_yet_time"
    assert task.task_id in violation.message

    opened.now = task.remind_at
    events = opened.send(remind(task))

    assert events == [ReminderSent(task_id=task.task_id)]
    assert opened.envelopes[-1].actor == SYSTEM_ACTOR
    assert opened.envelopes[-1].occurred_at == task.remind_at
    assert opened.task(TaskKind.CONSENT).reminded
    assert not opened.task(TaskKind.CONSENT).overdue


@pytest.mark.parametrize("actor", NON_SYSTEM_ACTORS, ids=lambda actor: str(actor.role))
def test_only_the_workflow_sends_reminders(opened: Case, actor: Actor) -> None:
    task = opened.task(TaskKind.CONSENT)
    assert task.remind_at is not None
    opened.now = task.remind_at
    assert refused(opened, remind(task, actor)).rule == "role_not_allowed"
    assert not opened.task(TaskKind.CONSENT).reminded


def test_a_task_is_reminded_once(opened: Case) -> None:
    task = opened.task(TaskKind.CONSENT)
    assert task.remind_at is not None
    opened.now = task.remind_at
    opened.send(remind(task))

    opened.advance(minutes=1)
    assert refused(opened, remind(task)).rule == "reminder_not_needed"


def test_no_reminder_once_the_task_is_overdue(opened: Case) -> None:
    task = opened.task(TaskKind.CONSENT)
    opened.now = task.due_at
    opened.send(overdue(task))

    assert refused(opened, remind(task)).rule == "reminder_not_needed"
    assert not opened.task(TaskKind.CONSENT).reminded


@pytest.mark.parametrize(
    ("command", "rule"),
    [
        (SendReminder(actor=SYSTEM_ACTOR, task_id="ghost"), "task_unknown"),
        (EscalateTask(actor=SYSTEM_ACTOR, task_id="ghost"), "task_unknown"),
    ],
)
def test_timer_commands_for_unknown_tasks(opened: Case, command: Command, rule: str) -> None:
    opened.advance(days=1)
    assert refused(opened, command).rule == rule


def test_timer_commands_for_a_completed_task_are_refused(opened: Case) -> None:
    consent = opened.task(TaskKind.CONSENT)
    opened.advance(minutes=5)
    opened.complete(TaskKind.CONSENT, consent_given())

    opened.now = consent.due_at + timedelta(hours=1)
    assert refused(opened, remind(consent)).rule == "task_not_open"
    assert refused(opened, escalate(consent)).rule == "task_not_open"


def test_timer_commands_on_a_closed_case_are_refused(opened: Case) -> None:
    consent = opened.task(TaskKind.CONSENT)
    opened.complete(TaskKind.CONSENT, consent_declined())  # declined without override: closes
    assert not opened.state.is_open

    opened.now = consent.due_at + timedelta(hours=1)
    assert refused(opened, remind(consent)).rule == "case_not_open"
    assert refused(opened, escalate(consent)).rule == "case_not_open"
    assert pending_deadlines(opened.state) == []
    assert next_deadline(opened.state) is None
    assert commands_due(opened.state, opened.now) == []


# --- EscalateTask ----------------------------------------------------------------------------------


def test_escalation_refused_before_its_time_and_accepted_from_it(escalating: Case) -> None:
    task = escalating.task(TaskKind.CONSENT)
    assert task.escalate_at == task.due_at + ESCALATE_AFTER

    escalating.now = task.due_at  # due, but not yet time to escalate
    assert refused(escalating, escalate(task)).rule == "not_yet_time"
    escalating.now = task.escalate_at - timedelta(microseconds=1)
    assert refused(escalating, escalate(task)).rule == "not_yet_time"

    escalating.now = task.escalate_at
    events = escalating.send(escalate(task))

    assert events == [TaskEscalated(task_id=task.task_id, to_role=Role.TEAM_LEAD)]
    assert escalating.task(TaskKind.CONSENT).escalated
    assert escalating.task(TaskKind.CONSENT).status is TaskStatus.OPEN  # escalation does not close it


@pytest.mark.parametrize("actor", NON_SYSTEM_ACTORS, ids=lambda actor: str(actor.role))
def test_only_the_workflow_escalates(escalating: Case, actor: Actor) -> None:
    task = escalating.task(TaskKind.CONSENT)
    assert task.escalate_at is not None
    escalating.now = task.escalate_at
    assert refused(escalating, escalate(task, actor)).rule == "role_not_allowed"
    assert not escalating.task(TaskKind.CONSENT).escalated


def test_a_task_is_escalated_once(escalating: Case) -> None:
    task = escalating.task(TaskKind.CONSENT)
    assert task.escalate_at is not None
    escalating.now = task.escalate_at
    escalating.send(escalate(task))

    escalating.advance(hours=1)
    assert refused(escalating, escalate(task)).rule == "already_escalated"


def test_an_escalated_task_can_still_be_completed(escalating: Case) -> None:
    task = escalating.task(TaskKind.CONSENT)
    assert task.escalate_at is not None
    escalating.now = task.escalate_at
    assert run_timers(escalating) == ["TaskBecameOverdue", "TaskEscalated"]

    escalating.complete(TaskKind.CONSENT, consent_given(), actor=TEAM_LEAD)
    assert escalating.state.tasks[task.task_id].status is TaskStatus.COMPLETED


def test_a_task_recorded_before_reminders_existed_has_only_its_due_time(opened: Case) -> None:
    """Tasks opened by older code carry no reminder or escalation time; the fold and the rules cope."""
    task = opened.task(TaskKind.CONSENT)
    legacy = task.model_copy(update={"remind_at": None, "escalate_at": None})
    opened.state = opened.state.model_copy(update={"tasks": {task.task_id: legacy}})

    assert described(pending_deadlines(opened.state)) == [(task.due_at, "MarkOverdue", task.task_id)]
    opened.now = task.due_at + timedelta(days=1)
    assert refused(opened, remind(legacy)).rule == "no_such_deadline"
    assert refused(opened, escalate(legacy)).rule == "no_such_deadline"
    assert run_timers(opened) == ["TaskBecameOverdue"]
    assert next_deadline(opened.state) is None


# --- pending deadlines and the commands that are due -----------------------------------------------


def test_deadlines_are_reminder_then_due_then_escalation(escalating: Case) -> None:
    task = escalating.task(TaskKind.CONSENT)
    assert task.remind_at is not None and task.escalate_at is not None
    assert task.remind_at < task.due_at < task.escalate_at

    assert described(pending_deadlines(escalating.state)) == [
        (task.remind_at, "SendReminder", task.task_id),
        (task.due_at, "MarkOverdue", task.task_id),
        (task.escalate_at, "EscalateTask", task.task_id),
    ]
    assert next_deadline(escalating.state) == task.remind_at
    # Every command a deadline carries is the workflow's own.
    assert all(d.command.actor == SYSTEM_ACTOR for d in pending_deadlines(escalating.state))


def test_commands_due_walks_the_deadlines_in_order(escalating: Case) -> None:
    task = escalating.task(TaskKind.CONSENT)
    assert task.remind_at is not None and task.escalate_at is not None

    escalating.now = task.remind_at - timedelta(seconds=1)
    assert commands_due(escalating.state, escalating.now) == []

    escalating.now = task.remind_at
    assert commands_due(escalating.state, escalating.now) == [remind(task)]
    assert run_timers(escalating) == ["ReminderSent"]
    assert next_deadline(escalating.state) == task.due_at

    escalating.now = task.due_at - timedelta(seconds=1)
    assert commands_due(escalating.state, escalating.now) == []
    escalating.now = task.due_at
    assert commands_due(escalating.state, escalating.now) == [overdue(task)]
    assert run_timers(escalating) == ["TaskBecameOverdue"]
    assert next_deadline(escalating.state) == task.escalate_at

    escalating.now = task.escalate_at
    assert commands_due(escalating.state, escalating.now) == [escalate(task)]
    assert run_timers(escalating) == ["TaskEscalated"]

    assert pending_deadlines(escalating.state) == []
    assert next_deadline(escalating.state) is None
    escalating.advance(days=30)
    assert commands_due(escalating.state, escalating.now) == []


def test_due_comes_before_escalation_when_they_fall_at_the_same_time(opened: Case) -> None:
    task = opened.task(TaskKind.CONSENT)
    assert task.escalate_at == task.due_at  # the test site escalates at once
    opened.now = task.due_at
    assert commands_due(opened.state, opened.now) == [overdue(task), escalate(task)]
    assert run_timers(opened) == ["TaskBecameOverdue", "TaskEscalated"]


def test_a_stale_reminder_is_dropped_once_the_task_is_due(escalating: Case) -> None:
    """After a pause past the due time, the reminder is not sent late: overdue and escalation say it."""
    task = escalating.task(TaskKind.CONSENT)
    assert task.remind_at is not None and task.escalate_at is not None

    escalating.now = task.due_at
    assert commands_due(escalating.state, escalating.now) == [overdue(task)]
    # It is still pending (not sent, not overdue yet): only commands_due leaves it out.
    assert remind(task) in [d.command for d in pending_deadlines(escalating.state)]

    escalating.now = task.escalate_at + timedelta(hours=3)
    assert commands_due(escalating.state, escalating.now) == [overdue(task), escalate(task)]
    assert run_timers(escalating) == ["TaskBecameOverdue", "TaskEscalated"]
    assert not escalating.task(TaskKind.CONSENT).reminded
    assert pending_deadlines(escalating.state) == []


def test_a_reminder_just_before_the_due_time_is_still_sent(escalating: Case) -> None:
    task = escalating.task(TaskKind.CONSENT)
    escalating.now = task.due_at - timedelta(microseconds=1)
    assert commands_due(escalating.state, escalating.now) == [remind(task)]


@pytest.mark.parametrize("minutes", range(0, 200, 5))
def test_commands_due_are_the_pending_deadlines_that_have_come(escalating: Case, minutes: int) -> None:
    now = NOW + timedelta(minutes=minutes)
    due = commands_due(escalating.state, now)
    passed = [d.command for d in pending_deadlines(escalating.state) if d.at <= now]
    assert due == [c for c in passed if not (isinstance(c, SendReminder) and minutes >= 120)]
    # And the workflow's loop accepts each of them, in order.
    escalating.now = now
    run_timers(escalating)
    assert commands_due(escalating.state, now) == []


def test_commands_due_across_several_open_tasks(consented: Case) -> None:
    """The deadlines of several open tasks interleave by time. The pathway keeps one task open at a
    time for now, so the second is put into the state directly."""
    screening_task = consented.task(TaskKind.SCREENING)
    extra = screening_task.model_copy(
        update={
            "task_id": "extra-1",
            "kind": TaskKind.SHARE_INFORMATION,
            "due_at": screening_task.due_at + timedelta(minutes=10),
            "remind_at": screening_task.due_at - timedelta(minutes=10),
            "escalate_at": screening_task.due_at + timedelta(minutes=20),
        }
    )
    tasks = {**consented.state.tasks, extra.task_id: extra}
    consented.state = consented.state.model_copy(update={"tasks": tasks})
    assert screening_task.remind_at is not None

    assert described(pending_deadlines(consented.state)) == [
        (screening_task.remind_at, "SendReminder", screening_task.task_id),
        (screening_task.due_at - timedelta(minutes=10), "SendReminder", "extra-1"),
        (screening_task.due_at, "MarkOverdue", screening_task.task_id),
        (screening_task.escalate_at, "EscalateTask", screening_task.task_id),
        (screening_task.due_at + timedelta(minutes=10), "MarkOverdue", "extra-1"),
        (screening_task.due_at + timedelta(minutes=20), "EscalateTask", "extra-1"),
    ]
    # At the screening due time the other task's reminder is still worth sending: it is not due yet.
    consented.now = screening_task.due_at
    assert commands_due(consented.state, consented.now) == [
        SendReminder(actor=SYSTEM_ACTOR, task_id="extra-1"),
        overdue(screening_task),
        escalate(screening_task),
    ]
    assert run_timers(consented) == ["ReminderSent", "TaskBecameOverdue", "TaskEscalated"]


# --- deadlines follow the case --------------------------------------------------------------------


def test_next_deadline_moves_when_tasks_complete(opened: Case) -> None:
    consent = opened.task(TaskKind.CONSENT)
    assert next_deadline(opened.state) == consent.remind_at == NOW + timedelta(minutes=90)

    # Consent given early: screening takes over the same due time and its own reminder before it.
    opened.advance(minutes=10)
    screening_task = opened_task(opened.complete(TaskKind.CONSENT, consent_given()))
    assert next_deadline(opened.state) == screening_task.remind_at == consent.due_at - CONSENT_REMINDER
    assert {getattr(d.command, "task_id", None) for d in pending_deadlines(opened.state)} == {screening_task.task_id}

    # Screening done: the assessment's deadlines are a day away.
    opened.advance(minutes=10)
    assessment_task = opened_task(opened.complete(TaskKind.SCREENING, screening(assessment_needed=True)))
    assert next_deadline(opened.state) == assessment_task.remind_at == NOW + timedelta(minutes=20, hours=22)

    # Reminded: the next deadline is its due time.
    assert assessment_task.remind_at is not None
    opened.now = assessment_task.remind_at
    assert run_timers(opened) == ["ReminderSent"]
    assert next_deadline(opened.state) == assessment_task.due_at

    # Assessment done just before it is due: the share_information task's reminder comes next.
    opened.now = assessment_task.due_at - timedelta(minutes=1)
    share_task = opened_task(opened.complete(TaskKind.ASSESSMENT, assessment()))
    assert share_task.remind_at is not None
    assert next_deadline(opened.state) == share_task.remind_at > assessment_task.due_at


def test_a_task_completed_in_time_yields_no_deadlines(opened: Case) -> None:
    consent = opened.task(TaskKind.CONSENT)
    opened.advance(minutes=5)
    opened.complete(TaskKind.CONSENT, consent_given())

    deadlines = pending_deadlines(opened.state)
    assert deadlines  # the screening task's
    assert all(getattr(d.command, "task_id", None) != consent.task_id for d in deadlines)

    # Long after the consent task's reminder, due and escalation times, nothing is ever sent about it.
    for later in (timedelta(minutes=90), timedelta(minutes=120), timedelta(days=3)):
        due = commands_due(opened.state, NOW + later)
        assert all(getattr(c, "task_id", None) != consent.task_id for c in due)
    opened.now = NOW + timedelta(days=3)
    sent = run_timers(opened)
    assert sent == ["TaskBecameOverdue", "TaskEscalated"]  # the screening task's
    timer_events = [e.event for e in opened.envelopes if isinstance(e.event, ReminderSent | TaskEscalated)]
    assert [e.task_id for e in timer_events] == [opened.task(TaskKind.SCREENING).task_id]


def test_a_case_whose_tasks_are_all_done_in_time_sends_nothing(opened: Case) -> None:
    kinds = [
        (TaskKind.CONSENT, consent_given()),
        (TaskKind.SCREENING, screening(assessment_needed=True)),
        (TaskKind.ASSESSMENT, assessment()),
    ]
    for kind, outcome in kinds:
        opened.advance(minutes=5)
        assert run_timers(opened) == []
        opened.complete(kind, outcome)
    timer_events = [e for e in opened.envelopes if e.actor == SYSTEM_ACTOR]
    assert timer_events == []
