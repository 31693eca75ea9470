"""Community link work (domain/link_work.py): support started by a referral decision with goals,
contacts, the disengagement review after missed contacts, the end of support, follow-ups opened by
their timers, the closure gate, and the deadlines the case workflow sleeps until. Every refusal is
checked by its exact rule id, with the case left as it was.

The test site (tests/domain/support.py) is staffed around the clock with the default link-work
settings: 28 days of support (84 on the women's pathway), a contact every 7 days, a review after 2
missed contacts in a row, follow-ups 14 and 42 days after support ends, days of 1440 minutes.
"""

from datetime import timedelta

import pytest
from pydantic import JsonValue

from domain.commands import (
    CloseCase,
    CompleteTask,
    EndSupport,
    OpenScheduledTask,
    RecordReferralOutcome,
    RecordReferralSendFailed,
    RecordReferralSent,
)
from domain.config import SiteConfig
from domain.deadlines import Deadline, commands_due, pending_deadlines
from domain.decisions import DecisionContext
from domain.errors import Rule
from domain.events import (
    CaseClosed,
    ContactRecorded,
    DisengagementReviewed,
    DomainEvent,
    FollowUpRecorded,
    ReferralMade,
    StageEntered,
    SupportEnded,
    SupportStarted,
    TaskCancelled,
    TaskCompleted,
    TaskOpened,
    TaskScheduled,
)
from domain.link_work import CONTACT_GOALS_SET
from domain.model import SYSTEM_ACTOR, Actor, Cohort, Role, Stage
from domain.outcomes import (
    ClosureOutcome,
    ClosureReason,
    ContactOutcome,
    DisengagementReviewOutcome,
    FollowUpOutcome,
    GoalArea,
    ReferralDecisionOutcome,
    ReferralRequest,
    ReferralStatus,
    ServiceType,
    Urgency,
)
from domain.rules import decide
from domain.state import Support, fold
from domain.tasks import CANDIDATE_ROLES, Task, TaskKind, TaskStatus
from tests.domain.support import (
    AUDITOR,
    LINK_WORKER,
    NOW,
    OPERATOR,
    PRACTITIONER,
    TEAM_LEAD,
    Case,
    closure,
    consent_given,
    dump,
    make_site,
    open_case,
    open_task_kinds,
    refused,
    screening,
    share,
)

DAY = timedelta(days=1)
SUPPORT = 28 * DAY
CONTACT_EVERY = 7 * DAY
FOLLOW_UP_SLA = timedelta(days=2)
NON_SYSTEM_ACTORS = [PRACTITIONER, LINK_WORKER, TEAM_LEAD, AUDITOR, OPERATOR, Actor(staff_id="adm", role=Role.ADMIN)]


# --- helpers ---------------------------------------------------------------------------------------


def types(events: list[DomainEvent]) -> list[str]:
    return [type(event).__name__ for event in events]


def site_with(**changes: object) -> SiteConfig:
    return make_site().model_copy(update=changes)


def to_referral_decision(case: Case, cohorts: tuple[Cohort, ...] = ()) -> None:
    """Open the case and take it to an open referral_decision task (screening without assessment)."""
    case.send(open_case(cohorts=cohorts))
    case.complete(TaskKind.CONSENT, consent_given())
    case.complete(TaskKind.SCREENING, screening(assessment_needed=False, urgency=Urgency.URGENT))
    case.complete(TaskKind.SHARE_INFORMATION, share())
    assert case.stage() is Stage.REFERRAL


def decision(*goals: GoalArea, services: tuple[ServiceType, ...] = ()) -> dict[str, JsonValue]:
    return dump(
        ReferralDecisionOutcome(
            referrals=[ReferralRequest(service=s, reason="needs support") for s in services],
            reason_if_none=None if services else "link work only",
            link_work_goals=list(goals),
        )
    )


def to_support(
    case: Case,
    services: tuple[ServiceType, ...] = (),
    cohorts: tuple[Cohort, ...] = (),
) -> list[DomainEvent]:
    """Take the case into link work with housing and debt goals; the referral decision's events."""
    to_referral_decision(case, cohorts)
    events = case.complete(TaskKind.REFERRAL_DECISION, decision(GoalArea.HOUSING, GoalArea.DEBT, services=services))
    assert case.stage() is Stage.SUPPORT
    return events


def contact(
    attendance: str = "attended", next_in_days: int | None = None, goals: tuple[GoalArea, ...] = ()
) -> dict[str, JsonValue]:
    outcome = ContactOutcome.model_validate(
        {"attendance": attendance, "goals_progressed": list(goals), "next_contact_in_days": next_in_days}
    )
    return dump(outcome)


def review(choice: str) -> dict[str, JsonValue]:
    return dump(DisengagementReviewOutcome.model_validate({"decision": choice, "reason": "talked it over"}))


def follow_up(engaged: bool = True) -> dict[str, JsonValue]:
    return dump(FollowUpOutcome(engaged_with_services=engaged, concerns="" if engaged else "not seen"))


def opened_tasks(events: list[DomainEvent]) -> list[Task]:
    return [event.task for event in events if isinstance(event, TaskOpened)]


def scheduled_tasks(events: list[DomainEvent]) -> list[Task]:
    return [event.task for event in events if isinstance(event, TaskScheduled)]


def support_of(case: Case) -> Support:
    support = case.state.support
    assert support is not None
    return support


def miss_until_review(case: Case) -> None:
    """Miss contacts until the disengagement review opens."""
    for _ in range(case.site.missed_contacts_for_review):
        case.advance(days=1)
        case.complete(TaskKind.CONTACT, contact("did_not_attend"), LINK_WORKER)
    assert open_task_kinds(case.state) == [TaskKind.DISENGAGEMENT_REVIEW]


def end_support(case: Case) -> list[DomainEvent]:
    """Let the support run out and send the workflow's EndSupport."""
    case.now = support_of(case).ends_at
    return case.send(EndSupport(actor=SYSTEM_ACTOR))


def scheduled(case: Case, kind: TaskKind = TaskKind.FOLLOW_UP) -> list[Task]:
    tasks = [t for t in case.state.tasks.values() if t.kind is kind and t.status is TaskStatus.SCHEDULED]
    return sorted(tasks, key=lambda t: t.opens_at or NOW)


def open_scheduled(case: Case, task: Task) -> list[DomainEvent]:
    assert task.opens_at is not None
    case.now = task.opens_at
    return case.send(OpenScheduledTask(actor=SYSTEM_ACTOR, task_id=task.task_id))


def close(reason: ClosureReason = ClosureReason.PATHWAY_COMPLETE) -> CloseCase:
    return CloseCase(actor=TEAM_LEAD, outcome=ClosureOutcome(reason=reason))


def answer(case: Case, referral_id: str, *statuses: ReferralStatus) -> None:
    """Send the referral and record the service's answers, in order."""
    case.send(RecordReferralSent(actor=SYSTEM_ACTOR, referral_id=referral_id, channel="email"))
    for status in statuses:
        reason = "no capacity" if status is ReferralStatus.REJECTED else ""
        case.send(RecordReferralOutcome(actor=PRACTITIONER, referral_id=referral_id, status=status, reason=reason))


# --- starting support ------------------------------------------------------------------------------


def test_referral_decision_with_goals_starts_support(case: Case) -> None:
    to_referral_decision(case)
    case.advance(hours=3)
    started = case.now
    decision_task = case.task(TaskKind.REFERRAL_DECISION)

    events = case.complete(
        TaskKind.REFERRAL_DECISION,
        decision(GoalArea.HOUSING, GoalArea.DEBT, GoalArea.HOUSING, services=(ServiceType.MENTAL_HEALTH,)),
    )

    assert types(events) == ["ReferralMade", "TaskCompleted", "StageEntered", "SupportStarted", "TaskOpened"]
    assert isinstance(events[0], ReferralMade)
    assert events[1] == TaskCompleted(task_id=decision_task.task_id)
    assert events[2] == StageEntered(stage=Stage.SUPPORT, previous=Stage.REFERRAL)
    assert events[3] == SupportStarted(goals=(GoalArea.HOUSING, GoalArea.DEBT), ends_at=started + SUPPORT)
    [first] = opened_tasks(events)
    assert first.kind is TaskKind.CONTACT
    assert first.priority is Urgency.ROUTINE
    assert first.candidate_roles == CANDIDATE_ROLES[TaskKind.CONTACT]
    assert first.opened_at == started
    assert first.due_at == started + CONTACT_EVERY
    assert first.remind_at == first.due_at - DAY  # the default contact reminder
    assert case.stage() is Stage.SUPPORT
    assert case.state.support == Support(
        goals=(GoalArea.HOUSING, GoalArea.DEBT), started_at=started, ends_at=started + SUPPORT
    )
    assert open_task_kinds(case.state) == [TaskKind.CONTACT]


def test_referral_decision_without_goals_starts_no_support(case: Case) -> None:
    to_referral_decision(case)
    events = case.complete(TaskKind.REFERRAL_DECISION, decision(services=(ServiceType.HOUSING,)))
    assert types(events) == ["ReferralMade", "TaskCompleted", "TaskOpened"]
    assert case.state.support is None
    assert case.stage() is Stage.REFERRAL
    assert open_task_kinds(case.state) == [TaskKind.CLOSURE]


@pytest.mark.parametrize(
    ("cohorts", "support_days"),
    [
        ((), 28),
        ((Cohort.VETERAN,), 28),
        ((Cohort.WOMENS_PATHWAY,), 84),
        ((Cohort.VETERAN, Cohort.WOMENS_PATHWAY), 84),
    ],
)
def test_support_length_by_cohort_on_the_default_site(
    site: SiteConfig, cohorts: tuple[Cohort, ...], support_days: int
) -> None:
    case = Case(site)
    events = to_support(case, cohorts=cohorts)
    [started] = [e for e in events if isinstance(e, SupportStarted)]
    assert started.ends_at == case.now + timedelta(days=support_days)
    assert support_of(case).ends_at == case.now + timedelta(days=support_days)


@pytest.mark.parametrize(
    ("cohorts", "minutes"),
    [((), 10), ((Cohort.CARE_LEAVER,), 10), ((Cohort.WOMENS_PATHWAY,), 30)],
)
def test_support_length_is_days_of_the_configured_day_length(cohorts: tuple[Cohort, ...], minutes: int) -> None:
    # The demo site's one-minute days: support_days * day_length_minutes.
    case = Case(site_with(support_days=10, womens_support_days=30, contact_every_days=3, day_length_minutes=1))
    events = to_support(case, cohorts=cohorts)
    assert support_of(case).ends_at == case.now + timedelta(minutes=minutes)
    [first] = opened_tasks(events)
    assert first.due_at == case.now + timedelta(minutes=3)


def test_support_length_with_a_longer_day() -> None:
    case = Case(site_with(support_days=4, day_length_minutes=12 * 60))
    to_support(case)
    assert support_of(case).ends_at == case.now + timedelta(days=2)


# --- contacts --------------------------------------------------------------------------------------


def test_a_contact_opens_the_next_one_contact_every_days_later(case: Case) -> None:
    to_support(case)
    first = case.task(TaskKind.CONTACT)
    case.advance(days=6)

    events = case.complete(TaskKind.CONTACT, contact("attended", goals=(GoalArea.HOUSING,)), LINK_WORKER)

    assert types(events) == ["ContactRecorded", "TaskCompleted", "TaskOpened"]
    assert events[0] == ContactRecorded(attendance="attended", goals_progressed=(GoalArea.HOUSING,))
    assert events[1] == TaskCompleted(task_id=first.task_id)
    [second] = opened_tasks(events)
    assert second.kind is TaskKind.CONTACT
    assert second.task_id != first.task_id
    assert second.due_at == case.now + CONTACT_EVERY
    assert second.opened_at == case.now
    support = support_of(case)
    assert support.contacts == 1
    assert support.missed_in_a_row == 0
    assert support.goals_progressed == (GoalArea.HOUSING,)
    assert case.state.tasks[first.task_id].closed_by == LINK_WORKER.staff_id


def test_the_site_contact_interval_is_used() -> None:
    case = Case(site_with(contact_every_days=5))
    events = to_support(case)
    assert opened_tasks(events)[0].due_at == case.now + 5 * DAY
    case.advance(days=2)
    events = case.complete(TaskKind.CONTACT, contact(), LINK_WORKER)
    assert opened_tasks(events)[0].due_at == case.now + 5 * DAY


@pytest.mark.parametrize("days", [1, 3, 14])
def test_next_contact_in_days_is_respected(case: Case, days: int) -> None:
    to_support(case)
    case.advance(days=2)
    events = case.complete(TaskKind.CONTACT, contact("attended", next_in_days=days), LINK_WORKER)
    [second] = opened_tasks(events)
    assert second.due_at == case.now + days * DAY


def test_goals_progressed_accumulate_without_duplicates(case: Case) -> None:
    to_support(case)
    case.complete(TaskKind.CONTACT, contact(goals=(GoalArea.HOUSING,)), LINK_WORKER)
    case.complete(TaskKind.CONTACT, contact("late", goals=(GoalArea.DEBT, GoalArea.HOUSING)), LINK_WORKER)
    assert support_of(case).goals_progressed == (GoalArea.HOUSING, GoalArea.DEBT)
    assert support_of(case).contacts == 2


def test_a_contact_progresses_only_the_goals_its_link_work_set(case: Case) -> None:
    to_support(case)  # housing and debt
    task_id = case.task(TaskKind.CONTACT).task_id
    outcome = contact(goals=(GoalArea.HOUSING, GoalArea.EMPLOYMENT))
    unset = CompleteTask(actor=LINK_WORKER, task_id=task_id, outcome=outcome)
    assert "not employment" in refused(case, unset, Rule.GOAL_NOT_SET).message

    # A run recorded before the rule took any goal, and replays so: its history has no patch marker.
    before_the_rule = DecisionContext(
        now=case.now, new_id=case.ids, site=case.site, patched=lambda name: name != CONTACT_GOALS_SET
    )
    recorded = ContactRecorded(attendance="attended", goals_progressed=(GoalArea.HOUSING, GoalArea.EMPLOYMENT))
    assert recorded in decide(case.state, unset, before_the_rule)


def test_a_next_contact_beyond_the_end_of_support_is_not_opened(case: Case) -> None:
    to_support(case)
    case.advance(days=22)  # the default next contact would be on day 29, after day 28
    events = case.complete(TaskKind.CONTACT, contact(), LINK_WORKER)
    assert types(events) == ["ContactRecorded", "TaskCompleted"]
    assert case.state.open_tasks == []
    assert case.stage() is Stage.SUPPORT
    assert support_of(case).ended_at is None


def test_a_next_contact_exactly_at_the_end_of_support_is_opened(case: Case) -> None:
    to_support(case)
    case.advance(days=21)
    events = case.complete(TaskKind.CONTACT, contact(), LINK_WORKER)
    [last] = opened_tasks(events)
    assert last.due_at == support_of(case).ends_at


def test_an_explicit_next_contact_beyond_the_end_is_not_opened(case: Case) -> None:
    to_support(case)
    case.advance(days=20)
    assert opened_tasks(case.complete(TaskKind.CONTACT, contact(next_in_days=9), LINK_WORKER)) == []
    assert case.state.open_tasks == []


def test_only_link_workers_and_team_leads_complete_contacts(case: Case) -> None:
    to_support(case)
    task = case.task(TaskKind.CONTACT)
    refused(case, CompleteTask(actor=PRACTITIONER, task_id=task.task_id, outcome=contact()), "role_not_allowed")
    case.complete(TaskKind.CONTACT, contact(), TEAM_LEAD)


def test_an_invalid_contact_outcome_is_refused(case: Case) -> None:
    to_support(case)
    task = case.task(TaskKind.CONTACT)
    outcome: dict[str, JsonValue] = {"attendance": "attended", "next_contact_in_days": 0}
    violation = refused(case, CompleteTask(actor=LINK_WORKER, task_id=task.task_id, outcome=outcome), "outcome_invalid")
    assert "next_contact_in_days" in violation.message


# --- missed contacts and the disengagement review -------------------------------------------------


def test_missed_contacts_in_a_row_open_a_disengagement_review(case: Case) -> None:
    to_support(case)
    case.advance(days=7)
    events = case.complete(TaskKind.CONTACT, contact("did_not_attend"), LINK_WORKER)
    assert types(events) == ["ContactRecorded", "TaskCompleted", "TaskOpened"]
    assert opened_tasks(events)[0].kind is TaskKind.CONTACT
    assert support_of(case).missed_in_a_row == 1

    case.advance(days=7)
    missed = case.task(TaskKind.CONTACT)
    events = case.complete(TaskKind.CONTACT, contact("did_not_attend"), LINK_WORKER)

    assert types(events) == ["ContactRecorded", "TaskCompleted", "TaskOpened"]
    assert events[0] == ContactRecorded(attendance="did_not_attend")
    assert events[1] == TaskCompleted(task_id=missed.task_id)
    [review_task] = opened_tasks(events)
    assert review_task.kind is TaskKind.DISENGAGEMENT_REVIEW
    assert review_task.priority is Urgency.URGENT
    assert review_task.candidate_roles == CANDIDATE_ROLES[TaskKind.DISENGAGEMENT_REVIEW]
    assert review_task.due_at == case.now + timedelta(days=2)  # the default review SLA
    assert open_task_kinds(case.state) == [TaskKind.DISENGAGEMENT_REVIEW]  # and no new contact
    assert support_of(case).missed_in_a_row == 2
    assert support_of(case).contacts == 2


def test_the_number_of_missed_contacts_for_a_review_is_configured() -> None:
    case = Case(site_with(missed_contacts_for_review=3))
    to_support(case)
    for _ in range(2):
        events = case.complete(TaskKind.CONTACT, contact("did_not_attend"), LINK_WORKER)
        assert [t.kind for t in opened_tasks(events)] == [TaskKind.CONTACT]
    events = case.complete(TaskKind.CONTACT, contact("did_not_attend"), LINK_WORKER)
    assert [t.kind for t in opened_tasks(events)] == [TaskKind.DISENGAGEMENT_REVIEW]


def test_one_missed_contact_is_enough_when_so_configured() -> None:
    case = Case(site_with(missed_contacts_for_review=1))
    to_support(case)
    events = case.complete(TaskKind.CONTACT, contact("did_not_attend"), LINK_WORKER)
    assert [t.kind for t in opened_tasks(events)] == [TaskKind.DISENGAGEMENT_REVIEW]


@pytest.mark.parametrize("attendance", ["attended", "late"])
def test_attending_resets_the_missed_count(case: Case, attendance: str) -> None:
    to_support(case)
    case.complete(TaskKind.CONTACT, contact("did_not_attend"), LINK_WORKER)
    case.complete(TaskKind.CONTACT, contact(attendance), LINK_WORKER)
    assert support_of(case).missed_in_a_row == 0
    events = case.complete(TaskKind.CONTACT, contact("did_not_attend"), LINK_WORKER)
    assert [t.kind for t in opened_tasks(events)] == [TaskKind.CONTACT]
    assert support_of(case).missed_in_a_row == 1
    assert open_task_kinds(case.state) == [TaskKind.CONTACT]


def test_a_missed_contact_with_a_next_contact_in_days_still_counts(case: Case) -> None:
    to_support(case)
    case.complete(TaskKind.CONTACT, contact("did_not_attend", next_in_days=2), LINK_WORKER)
    events = case.complete(TaskKind.CONTACT, contact("did_not_attend", next_in_days=2), LINK_WORKER)
    assert [t.kind for t in opened_tasks(events)] == [TaskKind.DISENGAGEMENT_REVIEW]


@pytest.mark.parametrize(("choice", "interval_days"), [("continue", 7), ("pause", 14)])
def test_review_continue_or_pause_opens_the_next_contact(case: Case, choice: str, interval_days: int) -> None:
    to_support(case)
    miss_until_review(case)
    review_task = case.task(TaskKind.DISENGAGEMENT_REVIEW)
    case.advance(hours=4)

    events = case.complete(TaskKind.DISENGAGEMENT_REVIEW, review(choice), LINK_WORKER)

    assert types(events) == ["DisengagementReviewed", "TaskCompleted", "TaskOpened"]
    assert events[0] == DisengagementReviewed.model_validate({"decision": choice, "reason": "talked it over"})
    assert events[1] == TaskCompleted(task_id=review_task.task_id)
    [next_contact] = opened_tasks(events)
    assert next_contact.kind is TaskKind.CONTACT
    assert next_contact.due_at == case.now + interval_days * DAY
    assert support_of(case).missed_in_a_row == 0
    assert support_of(case).ended_at is None
    assert case.stage() is Stage.SUPPORT


def test_pause_doubles_the_configured_interval() -> None:
    case = Case(site_with(contact_every_days=3))
    to_support(case)
    miss_until_review(case)
    events = case.complete(TaskKind.DISENGAGEMENT_REVIEW, review("pause"), LINK_WORKER)
    assert opened_tasks(events)[0].due_at == case.now + 6 * DAY


def test_after_a_review_one_more_missed_contact_does_not_reopen_it(case: Case) -> None:
    to_support(case)
    miss_until_review(case)
    case.complete(TaskKind.DISENGAGEMENT_REVIEW, review("continue"), LINK_WORKER)
    events = case.complete(TaskKind.CONTACT, contact("did_not_attend"), LINK_WORKER)
    assert [t.kind for t in opened_tasks(events)] == [TaskKind.CONTACT]
    events = case.complete(TaskKind.CONTACT, contact("did_not_attend"), LINK_WORKER)
    assert [t.kind for t in opened_tasks(events)] == [TaskKind.DISENGAGEMENT_REVIEW]


def test_a_paused_contact_beyond_the_end_of_support_is_not_opened(case: Case) -> None:
    to_support(case)
    miss_until_review(case)
    case.advance(days=15)  # day 17: a paused contact would be on day 31
    events = case.complete(TaskKind.DISENGAGEMENT_REVIEW, review("pause"), LINK_WORKER)
    assert types(events) == ["DisengagementReviewed", "TaskCompleted"]
    assert case.state.open_tasks == []


def test_review_end_ends_support_and_schedules_follow_ups(case: Case) -> None:
    to_support(case)
    miss_until_review(case)
    review_task = case.task(TaskKind.DISENGAGEMENT_REVIEW)
    case.advance(days=1)
    ended_at = case.now

    events = case.complete(TaskKind.DISENGAGEMENT_REVIEW, review("end"), TEAM_LEAD)

    assert types(events) == [
        "DisengagementReviewed",
        "TaskCompleted",
        "SupportEnded",
        "StageEntered",
        "TaskScheduled",
        "TaskScheduled",
    ]
    assert events[1] == TaskCompleted(task_id=review_task.task_id)
    assert events[2] == SupportEnded(reason="ended_after_review")
    assert events[3] == StageEntered(stage=Stage.FOLLOW_UP, previous=Stage.SUPPORT)
    assert [t.opens_at for t in scheduled_tasks(events)] == [ended_at + 14 * DAY, ended_at + 42 * DAY]
    assert case.state.tasks[review_task.task_id].status is TaskStatus.COMPLETED  # completed, not cancelled
    support = support_of(case)
    assert support.ended_at == ended_at
    assert support.end_reason == "ended_after_review"
    assert case.stage() is Stage.FOLLOW_UP
    assert case.state.open_tasks == []
    # The time limit cannot end it again.
    case.now = support.ends_at
    refused(case, EndSupport(actor=SYSTEM_ACTOR), "support_already_ended")


def test_an_invalid_review_decision_is_refused(case: Case) -> None:
    to_support(case)
    miss_until_review(case)
    task = case.task(TaskKind.DISENGAGEMENT_REVIEW)
    outcome: dict[str, JsonValue] = {"decision": "stop", "reason": "talked it over"}
    refused(case, CompleteTask(actor=LINK_WORKER, task_id=task.task_id, outcome=outcome), "outcome_invalid")


# --- the end of support --------------------------------------------------------------------------


def test_end_support_is_refused_before_the_support_runs_out(case: Case) -> None:
    to_support(case)
    case.now = support_of(case).ends_at - timedelta(minutes=1)
    violation = refused(case, EndSupport(actor=SYSTEM_ACTOR), "not_yet_time")
    assert str(support_of(case).ends_at) in violation.message


@pytest.mark.parametrize("actor", NON_SYSTEM_ACTORS, ids=lambda a: str(a.role))
def test_only_the_workflow_ends_support(case: Case, actor: Actor) -> None:
    to_support(case)
    case.now = support_of(case).ends_at + DAY
    refused(case, EndSupport(actor=actor), "role_not_allowed")


def test_support_ends_once(case: Case) -> None:
    to_support(case)
    end_support(case)
    refused(case, EndSupport(actor=SYSTEM_ACTOR), "support_already_ended")
    case.advance(days=100)
    refused(case, EndSupport(actor=SYSTEM_ACTOR), "support_already_ended")


def test_end_support_without_support_is_refused(case: Case) -> None:
    to_referral_decision(case)
    refused(case, EndSupport(actor=SYSTEM_ACTOR), "no_support")


def test_end_of_support_cancels_the_open_contact_and_schedules_follow_ups(case: Case) -> None:
    to_support(case)
    open_contact = case.task(TaskKind.CONTACT)
    events = end_support(case)
    ended_at = case.now

    assert types(events) == ["TaskCancelled", "SupportEnded", "StageEntered", "TaskScheduled", "TaskScheduled"]
    assert events[0] == TaskCancelled(task_id=open_contact.task_id, reason="support ended")
    assert events[1] == SupportEnded(reason="time_limit_reached")
    assert events[2] == StageEntered(stage=Stage.FOLLOW_UP, previous=Stage.SUPPORT)
    follow_ups = scheduled_tasks(events)
    for task, offset in zip(follow_ups, (14, 42), strict=True):
        assert task.kind is TaskKind.FOLLOW_UP
        assert task.status is TaskStatus.SCHEDULED
        assert task.opens_at == ended_at + offset * DAY
        assert task.opened_at == ended_at
        assert task.due_at == task.opens_at + FOLLOW_UP_SLA  # provisional until it opens
        assert task.site == case.site.site_id
        assert task.candidate_roles == CANDIDATE_ROLES[TaskKind.FOLLOW_UP]
    assert len({t.task_id for t in follow_ups}) == 2

    state = case.state
    assert state.stage is Stage.FOLLOW_UP
    assert state.tasks[open_contact.task_id].status is TaskStatus.CANCELLED
    assert state.open_tasks == []
    assert scheduled(case) == follow_ups
    assert support_of(case).ended_at == ended_at
    assert support_of(case).end_reason == "time_limit_reached"


def test_end_of_support_cancels_an_open_disengagement_review(case: Case) -> None:
    to_support(case)
    miss_until_review(case)
    review_task = case.task(TaskKind.DISENGAGEMENT_REVIEW)
    events = end_support(case)
    assert events[0] == TaskCancelled(task_id=review_task.task_id, reason="support ended")
    assert case.state.tasks[review_task.task_id].status is TaskStatus.CANCELLED


def test_end_of_support_leaves_other_open_tasks_alone(case: Case) -> None:
    # A chase of a referral that could not be sent is not link work: it stays open.
    to_support(case, services=(ServiceType.HOUSING,))
    [housing] = case.state.referrals
    case.send(RecordReferralSendFailed(actor=SYSTEM_ACTOR, referral_id=housing.referral_id, reason="bounced"))
    chase = case.task(TaskKind.CHASE_REFERRAL)
    open_contact = case.task(TaskKind.CONTACT)
    events = end_support(case)
    assert [e for e in events if isinstance(e, TaskCancelled)] == [
        TaskCancelled(task_id=open_contact.task_id, reason="support ended")
    ]
    assert case.state.tasks[chase.task_id].status is TaskStatus.OPEN


def test_follow_up_offsets_are_deduplicated_and_sorted() -> None:
    case = Case(site_with(follow_up_offsets_days=(30, 7, 30)))
    to_support(case)
    events = end_support(case)
    assert [t.opens_at for t in scheduled_tasks(events)] == [case.now + 7 * DAY, case.now + 30 * DAY]


def test_a_site_without_follow_ups_opens_the_closure_task_at_the_end_of_support() -> None:
    case = Case(site_with(follow_up_offsets_days=()))
    to_support(case)
    open_contact = case.task(TaskKind.CONTACT)
    events = end_support(case)
    assert types(events) == ["TaskCancelled", "SupportEnded", "StageEntered", "TaskOpened"]
    assert events[0] == TaskCancelled(task_id=open_contact.task_id, reason="support ended")
    [closure_task] = opened_tasks(events)
    assert closure_task.kind is TaskKind.CLOSURE
    assert closure_task.priority is Urgency.ROUTINE
    assert closure_task.due_at == case.now + 7 * DAY
    assert open_task_kinds(case.state) == [TaskKind.CLOSURE]
    assert scheduled(case) == []

    case.complete(TaskKind.CLOSURE, closure())
    assert case.stage() is Stage.CLOSED


def test_review_end_on_a_site_without_follow_ups_opens_the_closure_task() -> None:
    case = Case(site_with(follow_up_offsets_days=()))
    to_support(case)
    miss_until_review(case)
    events = case.complete(TaskKind.DISENGAGEMENT_REVIEW, review("end"), LINK_WORKER)
    assert types(events) == ["DisengagementReviewed", "TaskCompleted", "SupportEnded", "StageEntered", "TaskOpened"]
    assert open_task_kinds(case.state) == [TaskKind.CLOSURE]


# --- follow-ups: opened by their timers ----------------------------------------------------------


def test_a_scheduled_follow_up_opens_at_its_time(case: Case) -> None:
    to_support(case)
    end_support(case)
    first, _ = scheduled(case)
    assert first.opens_at is not None

    case.now = first.opens_at - timedelta(minutes=1)
    violation = refused(case, OpenScheduledTask(actor=SYSTEM_ACTOR, task_id=first.task_id), "not_yet_time")
    assert first.task_id in violation.message

    events = open_scheduled(case, first)
    assert types(events) == ["TaskOpened"]
    [opened] = opened_tasks(events)
    assert opened.task_id == first.task_id
    assert opened.kind is TaskKind.FOLLOW_UP
    assert opened.status is TaskStatus.OPEN
    assert opened.opened_at == first.opens_at
    assert opened.due_at == first.opens_at + FOLLOW_UP_SLA
    assert opened.remind_at == opened.due_at - timedelta(minutes=240)
    assert case.state.tasks[first.task_id].status is TaskStatus.OPEN
    assert open_task_kinds(case.state) == [TaskKind.FOLLOW_UP]


def test_a_follow_up_opened_late_is_due_from_when_it_opens(case: Case) -> None:
    to_support(case)
    end_support(case)
    first, _ = scheduled(case)
    assert first.opens_at is not None
    case.now = first.opens_at + timedelta(hours=5)  # a worker outage, say
    [opened] = opened_tasks(case.send(OpenScheduledTask(actor=SYSTEM_ACTOR, task_id=first.task_id)))
    assert opened.due_at == case.now + FOLLOW_UP_SLA


def test_open_scheduled_task_refuses_tasks_that_are_not_scheduled(case: Case) -> None:
    to_support(case)
    open_contact = case.task(TaskKind.CONTACT)
    end_support(case)
    first, _ = scheduled(case)
    open_scheduled(case, first)
    case.advance(days=100)
    for task_id in ("no-such-task", open_contact.task_id, first.task_id):
        violation = refused(case, OpenScheduledTask(actor=SYSTEM_ACTOR, task_id=task_id), "task_not_scheduled")
        assert task_id in violation.message


@pytest.mark.parametrize("actor", NON_SYSTEM_ACTORS, ids=lambda a: str(a.role))
def test_only_the_workflow_opens_scheduled_tasks(case: Case, actor: Actor) -> None:
    to_support(case)
    end_support(case)
    first, _ = scheduled(case)
    assert first.opens_at is not None
    case.now = first.opens_at
    refused(case, OpenScheduledTask(actor=actor, task_id=first.task_id), "role_not_allowed")


def test_a_scheduled_follow_up_cannot_be_completed_before_it_opens(case: Case) -> None:
    to_support(case)
    end_support(case)
    first, _ = scheduled(case)
    command = CompleteTask(actor=LINK_WORKER, task_id=first.task_id, outcome=follow_up())
    refused(case, command, "task_not_open")


def test_the_last_follow_up_opens_the_closure_task(case: Case) -> None:
    to_support(case)
    end_support(case)
    first, second = scheduled(case)

    open_scheduled(case, first)
    case.advance(hours=2)
    events = case.complete(TaskKind.FOLLOW_UP, follow_up(engaged=True), LINK_WORKER)
    assert types(events) == ["FollowUpRecorded", "TaskCompleted"]
    assert events[0] == FollowUpRecorded(engaged_with_services=True)
    assert events[1] == TaskCompleted(task_id=first.task_id)
    assert case.state.open_tasks == []

    open_scheduled(case, second)
    case.advance(hours=2)
    events = case.complete(TaskKind.FOLLOW_UP, follow_up(engaged=False), PRACTITIONER)
    assert types(events) == ["FollowUpRecorded", "TaskCompleted", "TaskOpened"]
    assert events[0] == FollowUpRecorded(engaged_with_services=False, concerns="not seen")
    [closure_task] = opened_tasks(events)
    assert closure_task.kind is TaskKind.CLOSURE
    assert closure_task.priority is Urgency.ROUTINE
    assert open_task_kinds(case.state) == [TaskKind.CLOSURE]
    assert first.opens_at is not None
    assert [(f.engaged_with_services, f.recorded_at) for f in case.state.follow_ups] == [
        (True, first.opens_at + timedelta(hours=2)),
        (False, case.now),
    ]


def test_no_closure_task_while_an_earlier_follow_up_is_still_open(case: Case) -> None:
    to_support(case)
    end_support(case)
    first, second = scheduled(case)
    open_scheduled(case, first)
    open_scheduled(case, second)
    events = case.send(CompleteTask(actor=LINK_WORKER, task_id=second.task_id, outcome=follow_up()))
    assert types(events) == ["FollowUpRecorded", "TaskCompleted"]
    events = case.send(CompleteTask(actor=LINK_WORKER, task_id=first.task_id, outcome=follow_up()))
    assert types(events) == ["FollowUpRecorded", "TaskCompleted", "TaskOpened"]
    assert open_task_kinds(case.state) == [TaskKind.CLOSURE]


# --- the closure gate ------------------------------------------------------------------------------


def test_closure_gate_names_each_referral_without_an_outcome_and_the_support(case: Case) -> None:
    to_support(case, services=(ServiceType.MENTAL_HEALTH, ServiceType.HOUSING, ServiceType.DEBT_ADVICE))
    mental_health, housing, debt = case.state.referrals
    answer(case, housing.referral_id)  # sent, no answer yet
    answer(case, debt.referral_id, ReferralStatus.REJECTED)  # an outcome

    violation = refused(case, close(), "closure_gate")

    assert violation.message == (
        "the case cannot close yet: "
        f"the referral to mental_health-1 ({mental_health.referral_id}) has no outcome yet (it is drafted); "
        f"the referral to housing-1 ({housing.referral_id}) has no outcome yet (it is sent); "
        "the link-work support has not ended"
    )
    assert case.stage() is Stage.SUPPORT


@pytest.mark.parametrize("reason", [r for r in ClosureReason if r is not ClosureReason.RECORD_MADE_IN_ERROR], ids=str)
def test_closure_gate_applies_to_every_other_reason(case: Case, reason: ClosureReason) -> None:
    to_support(case)
    violation = refused(case, close(reason), "closure_gate")
    assert violation.message == "the case cannot close yet: the link-work support has not ended"


def test_an_accepted_referral_still_has_no_outcome(case: Case) -> None:
    to_support(case, services=(ServiceType.HOUSING,))
    [housing] = case.state.referrals
    answer(case, housing.referral_id, ReferralStatus.ACCEPTED)
    end_support(case)
    violation = refused(case, close(), "closure_gate")
    assert violation.message == (
        f"the case cannot close yet: the referral to housing-1 ({housing.referral_id}) has no outcome yet "
        "(it is accepted)"
    )


def test_a_record_made_in_error_always_closes(case: Case) -> None:
    to_support(case, services=(ServiceType.MENTAL_HEALTH,))
    open_contact = case.task(TaskKind.CONTACT)
    events = case.send(close(ClosureReason.RECORD_MADE_IN_ERROR))
    assert types(events) == ["TaskCancelled", "CaseClosed"]
    assert events[0] == TaskCancelled(task_id=open_contact.task_id, reason="case closed")
    assert events[1] == CaseClosed(reason=ClosureReason.RECORD_MADE_IN_ERROR)
    assert case.stage() is Stage.CLOSED
    assert pending_deadlines(case.state) == []


def test_the_closure_task_is_gated_too_and_passes_once_every_referral_has_an_outcome(case: Case) -> None:
    to_support(case, services=(ServiceType.MENTAL_HEALTH, ServiceType.HOUSING))
    mental_health, housing = case.state.referrals
    answer(case, mental_health.referral_id, ReferralStatus.ACCEPTED, ReferralStatus.ATTENDED, ReferralStatus.ENGAGED)
    end_support(case)
    for task in scheduled(case):
        open_scheduled(case, task)
        case.complete(TaskKind.FOLLOW_UP, follow_up(), LINK_WORKER)
    closure_task = case.task(TaskKind.CLOSURE)

    command = CompleteTask(actor=PRACTITIONER, task_id=closure_task.task_id, outcome=closure())
    violation = refused(case, command, "closure_gate")
    assert violation.message == (
        f"the case cannot close yet: the referral to housing-1 ({housing.referral_id}) has no outcome yet "
        "(it is drafted)"
    )

    answer(case, housing.referral_id, ReferralStatus.DECLINED_BY_PERSON)
    events = case.send(command)
    assert types(events) == ["TaskCompleted", "CaseClosed"]
    assert case.stage() is Stage.CLOSED
    assert case.state.close_reason is ClosureReason.PATHWAY_COMPLETE
    assert fold(case.state.case_id, case.envelopes) == case.state


def test_a_case_closes_by_command_once_support_ended_and_referrals_answered(case: Case) -> None:
    to_support(case, services=(ServiceType.HOUSING,))
    [housing] = case.state.referrals
    answer(case, housing.referral_id, ReferralStatus.REJECTED)
    refused(case, close(), "closure_gate")
    case.advance(days=10)
    miss_until_review(case)
    case.complete(TaskKind.DISENGAGEMENT_REVIEW, review("end"), LINK_WORKER)
    events = case.send(close(ClosureReason.DECLINED_SUPPORT))
    assert types(events)[-1] == "CaseClosed"
    assert case.stage() is Stage.CLOSED


def test_a_case_without_support_is_not_gated(case: Case) -> None:
    to_referral_decision(case)
    case.complete(TaskKind.REFERRAL_DECISION, decision(services=(ServiceType.HOUSING,)))
    events = case.complete(TaskKind.CLOSURE, closure())
    assert types(events) == ["TaskCompleted", "CaseClosed"]


# --- deadlines -------------------------------------------------------------------------------------


def described(deadlines: list[Deadline]) -> list[tuple[object, str, str]]:
    return [(d.at, type(d.command).__name__, getattr(d.command, "task_id", "")) for d in deadlines]


def test_deadlines_include_the_end_of_support(case: Case) -> None:
    to_support(case)
    ends_at = support_of(case).ends_at
    first = case.task(TaskKind.CONTACT)
    deadlines = pending_deadlines(case.state)
    assert Deadline(ends_at, EndSupport(actor=SYSTEM_ACTOR)) in deadlines
    assert described(deadlines) == [
        (first.remind_at, "SendReminder", first.task_id),
        (first.due_at, "MarkOverdue", first.task_id),
        (first.escalate_at, "EscalateTask", first.task_id),
        (ends_at, "EndSupport", ""),
    ]
    assert EndSupport(actor=SYSTEM_ACTOR) not in commands_due(case.state, ends_at - timedelta(minutes=1))
    assert EndSupport(actor=SYSTEM_ACTOR) in commands_due(case.state, ends_at)


def test_deadlines_open_each_scheduled_follow_up_at_its_time(case: Case) -> None:
    to_support(case)
    end_support(case)
    first, second = scheduled(case)
    assert first.opens_at is not None and second.opens_at is not None
    deadlines = pending_deadlines(case.state)
    assert deadlines == [
        Deadline(first.opens_at, OpenScheduledTask(actor=SYSTEM_ACTOR, task_id=first.task_id)),
        Deadline(second.opens_at, OpenScheduledTask(actor=SYSTEM_ACTOR, task_id=second.task_id)),
    ]
    assert commands_due(case.state, first.opens_at) == [deadlines[0].command]

    open_scheduled(case, first)
    kinds = [type(d.command).__name__ for d in pending_deadlines(case.state)]
    assert "EndSupport" not in kinds
    assert [d for d in pending_deadlines(case.state) if isinstance(d.command, OpenScheduledTask)] == [deadlines[1]]


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
        sent.append(type(due[0]).__name__)
    raise AssertionError(f"the timer loop did not settle: {sent}")


def test_the_timers_run_unattended_link_work_to_its_follow_ups(case: Case) -> None:
    """Nobody does any contact: the timers mark the contact overdue, end the support and open both
    follow-ups, and every command they offer is accepted."""
    to_support(case)
    case.now = support_of(case).ends_at
    assert run_timers(case) == ["MarkOverdue", "EscalateTask", "EndSupport"]
    assert case.stage() is Stage.FOLLOW_UP
    first, second = scheduled(case)
    assert second.opens_at is not None
    case.now = second.opens_at
    sent = run_timers(case)
    assert sent.count("OpenScheduledTask") == 2
    assert {t.task_id for t in case.state.open_tasks} == {first.task_id, second.task_id}
    assert scheduled(case) == []
