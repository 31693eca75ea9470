"""The pathway rules: the whole journey, and every refusal by the exact rule it names."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import JsonValue, ValidationError

from domain.commands import (
    ClaimTask,
    CloseCase,
    Command,
    CompleteTask,
    MarkOverdue,
    ReassignTask,
    ShareInformation,
    WithdrawConsent,
)
from domain.config import SiteConfig
from domain.decisions import TRANSITIONS
from domain.errors import Rule, RuleViolation
from domain.events import (
    AssessmentRecorded,
    CaseClosed,
    CaseOpened,
    ConsentRecorded,
    ConsentWithdrawn,
    DomainEvent,
    EventEnvelope,
    InformationShared,
    ReferralMade,
    SafeguardingOverrideRecorded,
    ScreeningRecorded,
    StageEntered,
    TaskBecameOverdue,
    TaskCancelled,
    TaskClaimed,
    TaskCompleted,
    TaskOpened,
    TaskReassigned,
)
from domain.model import SYSTEM_ACTOR, Actor, AgeBand, Cohort, Role, Setting, Stage
from domain.outcomes import (
    ClosureOutcome,
    ClosureReason,
    ConsentScope,
    JusticeOutcome,
    LawfulBasis,
    Recipient,
    ServiceType,
    ShareInformationOutcome,
    Urgency,
)
from domain.state import fold
from domain.tasks import CANDIDATE_ROLES, Task, TaskKind, TaskStatus
from tests.domain.support import (
    ADULT_ASSESSMENT,
    AUDITOR,
    CHILD_ASSESSMENT,
    LINK_WORKER,
    NOW,
    OPERATOR,
    OTHER_PRACTITIONER,
    PRACTITIONER,
    TEAM_LEAD,
    Case,
    assessment,
    closure,
    consent_declined,
    consent_given,
    disclosure,
    make_site,
    open_case,
    open_task_kinds,
    referral_decision,
    screening,
    share,
)


def types(events: list[DomainEvent]) -> list[str]:
    return [type(event).__name__ for event in events]


def opened_task(events: list[DomainEvent]) -> Task:
    [task] = [event.task for event in events if isinstance(event, TaskOpened)]
    return task


def refused(case: Case, command: Command) -> RuleViolation:
    """Send `command`, expect a refusal, and check nothing about the case changed."""
    before = case.state.model_copy(deep=True)
    recorded = len(case.envelopes)
    with pytest.raises(RuleViolation) as caught:
        case.send(command)
    assert case.state == before
    assert len(case.envelopes) == recorded
    return caught.value


def stage_path(envelopes: list[EventEnvelope]) -> list[Stage]:
    return [env.event.stage for env in envelopes if isinstance(env.event, StageEntered)]


def close_command(actor: Actor = PRACTITIONER) -> CloseCase:
    return CloseCase(actor=actor, outcome=ClosureOutcome(reason=ClosureReason.TRANSFERRED))


# --- the whole journey ---------------------------------------------------------------------------


def test_full_journey_from_identification_to_closure(case: Case) -> None:
    # Identified: the case opens and goes straight to screening with an urgent consent task.
    events = case.send(open_case())
    assert types(events) == ["CaseOpened", "StageEntered", "TaskOpened"]
    assert events[1] == StageEntered(stage=Stage.SCREENING, previous=Stage.IDENTIFIED)
    consent_task = opened_task(events)
    assert consent_task.kind is TaskKind.CONSENT
    assert consent_task.priority is Urgency.URGENT
    assert consent_task.site == "demo"
    assert consent_task.candidate_roles == CANDIDATE_ROLES[TaskKind.CONSENT]
    assert consent_task.opened_at == NOW
    assert consent_task.due_at == NOW + timedelta(minutes=120)  # custody screening SLA, 24/7 site
    assert case.stage() is Stage.SCREENING
    assert case.state.opened_at == NOW
    assert case.state.next_due == consent_task.due_at

    # Consent given: the screening task keeps the deadline the consent task started.
    case.advance(minutes=30)
    events = case.complete(
        TaskKind.CONSENT, consent_given(ConsentScope.ASSESSMENT, ConsentScope.SHARE_POLICE, ConsentScope.ASSESSMENT)
    )
    assert types(events) == ["ConsentRecorded", "TaskCompleted", "TaskOpened"]
    assert events[0] == ConsentRecorded(
        decision="given", scope=(ConsentScope.ASSESSMENT, ConsentScope.SHARE_POLICE)
    )  # duplicates dropped
    screening_task = opened_task(events)
    assert screening_task.kind is TaskKind.SCREENING
    assert screening_task.due_at == consent_task.due_at
    assert screening_task.opened_at == NOW + timedelta(minutes=30)
    assert screening_task.priority is Urgency.URGENT
    assert case.state.consent == "given"
    assert case.state.tasks[consent_task.task_id].status is TaskStatus.COMPLETED
    assert case.state.tasks[consent_task.task_id].closed_by == PRACTITIONER.staff_id
    assert case.state.tasks[consent_task.task_id].closed_at == NOW + timedelta(minutes=30)
    assert case.stage() is Stage.SCREENING

    # Screening says a full assessment is needed, urgently.
    case.advance(minutes=45)
    screened_at = case.now
    events = case.complete(TaskKind.SCREENING, screening(assessment_needed=True, urgency=Urgency.EMERGENCY))
    assert types(events) == ["ScreeningRecorded", "TaskCompleted", "StageEntered", "TaskOpened"]
    assert isinstance(events[0], ScreeningRecorded)
    assert events[0].outcome.assessment_needed
    assert events[2] == StageEntered(stage=Stage.ASSESSMENT, previous=Stage.SCREENING)
    assessment_task = opened_task(events)
    assert assessment_task.kind is TaskKind.ASSESSMENT
    assert assessment_task.priority is Urgency.EMERGENCY
    assert assessment_task.due_at == screened_at + timedelta(hours=24)
    assert case.stage() is Stage.ASSESSMENT
    assert case.state.screening is not None
    assert case.state.screening.urgency is Urgency.EMERGENCY

    # Assessment: then information sharing, at the screening's urgency.
    case.advance(hours=5)
    events = case.complete(TaskKind.ASSESSMENT, assessment())
    assert types(events) == ["AssessmentRecorded", "TaskCompleted", "StageEntered", "TaskOpened"]
    assert isinstance(events[0], AssessmentRecorded)
    assert events[0].outcome.instrument == ADULT_ASSESSMENT[0]
    assert events[2] == StageEntered(stage=Stage.INFORMATION_SHARING, previous=Stage.ASSESSMENT)
    share_task = opened_task(events)
    assert share_task.kind is TaskKind.SHARE_INFORMATION
    assert share_task.priority is Urgency.EMERGENCY
    assert share_task.due_at == case.now + timedelta(hours=24)
    assert case.state.assessment is not None
    assert case.state.assessment.score == 14

    # Share information with the custody sergeant on the basis of consent (scope share_police).
    case.advance(hours=1)
    to_sergeant = disclosure(Recipient.CUSTODY_SERGEANT, LawfulBasis.CONSENT)
    events = case.complete(TaskKind.SHARE_INFORMATION, share(to_sergeant))
    assert types(events) == ["InformationShared", "TaskCompleted", "StageEntered", "TaskOpened"]
    assert events[0] == InformationShared(disclosure=to_sergeant)
    assert events[2] == StageEntered(stage=Stage.REFERRAL, previous=Stage.INFORMATION_SHARING)
    referral_task = opened_task(events)
    assert referral_task.kind is TaskKind.REFERRAL_DECISION
    assert referral_task.due_at == case.now + timedelta(days=2)
    assert case.state.disclosures == (to_sergeant,)

    # Referral decision: two referrals, then a routine closure task a week out.
    case.advance(days=1)
    events = case.complete(
        TaskKind.REFERRAL_DECISION, referral_decision(ServiceType.MENTAL_HEALTH, ServiceType.HOUSING)
    )
    assert types(events) == ["ReferralMade", "ReferralMade", "TaskCompleted", "TaskOpened"]
    made = [event for event in events if isinstance(event, ReferralMade)]
    assert [m.request.service for m in made] == [ServiceType.MENTAL_HEALTH, ServiceType.HOUSING]
    assert len({m.referral_id for m in made}) == 2
    closure_task = opened_task(events)
    assert closure_task.kind is TaskKind.CLOSURE
    assert closure_task.priority is Urgency.ROUTINE
    assert closure_task.due_at == case.now + timedelta(days=7)
    assert [r.made_at for r in case.state.referrals] == [case.now, case.now]
    assert case.stage() is Stage.REFERRAL

    # Closure.
    case.advance(days=3)
    events = case.complete(TaskKind.CLOSURE, closure(ClosureReason.PATHWAY_COMPLETE, JusticeOutcome.CAUTION))
    assert types(events) == ["TaskCompleted", "CaseClosed"]
    state = case.state
    assert state.stage is Stage.CLOSED
    assert not state.is_open
    assert state.closed_at == case.now
    assert state.close_reason is ClosureReason.PATHWAY_COMPLETE
    assert state.justice_outcome is JusticeOutcome.CAUTION
    assert state.open_tasks == []
    assert state.next_due is None
    assert len(state.tasks) == 6
    assert all(task.status is TaskStatus.COMPLETED for task in state.tasks.values())

    # The record: stages in order, seqs contiguous, and the fold of the stream is the state.
    assert stage_path(case.envelopes) == [
        Stage.SCREENING,
        Stage.ASSESSMENT,
        Stage.INFORMATION_SHARING,
        Stage.REFERRAL,
    ]
    assert [env.seq for env in case.envelopes] == list(range(1, len(case.envelopes) + 1))
    assert state.version == len(case.envelopes)
    assert len({env.event_id for env in case.envelopes}) == len(case.envelopes)
    assert fold(state.case_id, case.envelopes) == state


def test_screening_without_assessment_goes_straight_to_information_sharing(consented: Case) -> None:
    events = consented.complete(TaskKind.SCREENING, screening(assessment_needed=False, urgency=Urgency.ROUTINE))
    assert events[2] == StageEntered(stage=Stage.INFORMATION_SHARING, previous=Stage.SCREENING)
    task = opened_task(events)
    assert task.kind is TaskKind.SHARE_INFORMATION
    assert task.priority is Urgency.ROUTINE
    assert consented.stage() is Stage.INFORMATION_SHARING

    events = consented.complete(TaskKind.SHARE_INFORMATION, share())
    assert types(events) == ["TaskCompleted", "StageEntered", "TaskOpened"]
    events = consented.complete(TaskKind.REFERRAL_DECISION, referral_decision())
    assert types(events) == ["TaskCompleted", "TaskOpened"]
    assert consented.state.referrals == ()
    assert open_task_kinds(consented.state) == [TaskKind.CLOSURE]


def test_due_times_follow_operating_hours(office_site: SiteConfig) -> None:
    # Friday 16:00 in London (GMT in March): one hour on Friday, one on Monday morning.
    case = Case(office_site, now=datetime(2026, 3, 6, 16, 0, tzinfo=UTC))
    consent_task = opened_task(case.send(open_case(Setting.CUSTODY)))
    assert consent_task.due_at == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)

    # Consent on Saturday: screening still inherits the consent task's deadline.
    case.advance(hours=20)
    screening_task = opened_task(case.complete(TaskKind.CONSENT, consent_given()))
    assert screening_task.due_at == consent_task.due_at

    # Screening on Monday 09:30: the assessment gets 24 service hours = three 8-hour days.
    case.now = datetime(2026, 3, 9, 9, 30, tzinfo=UTC)
    assessment_task = opened_task(case.complete(TaskKind.SCREENING, screening()))
    assert assessment_task.due_at == datetime(2026, 3, 12, 9, 30, tzinfo=UTC)


def test_site_sla_configuration_sets_due_times() -> None:
    custom = make_site().model_copy(
        update={"screening_sla_minutes": {s: 60 for s in Setting}, "task_sla_minutes": {TaskKind.ASSESSMENT: 90}}
    )
    case = Case(custom)
    consent_task = opened_task(case.send(open_case(Setting.MAGISTRATES_COURT)))
    assert consent_task.due_at == NOW + timedelta(minutes=60)
    case.complete(TaskKind.CONSENT, consent_given())
    assessment_task = opened_task(case.complete(TaskKind.SCREENING, screening()))
    assert assessment_task.due_at == NOW + timedelta(minutes=90)
    share_task = opened_task(case.complete(TaskKind.ASSESSMENT, assessment()))
    assert share_task.due_at == NOW + timedelta(hours=24)  # not configured: the default


def test_open_case_records_the_referral_details(case: Case) -> None:
    command = open_case(Setting.YOUTH_COURT, AgeBand.CHILD, cohorts=(Cohort.CARE_LEAVER, Cohort.CARE_LEAVER))
    [opened, *_] = case.send(command)
    assert isinstance(opened, CaseOpened)
    assert opened.cohorts == (Cohort.CARE_LEAVER,)
    assert case.state.cohorts == (Cohort.CARE_LEAVER,)
    state = case.state
    assert state.setting is Setting.YOUTH_COURT
    assert state.age_band is AgeBand.CHILD
    assert state.external_ref == "CUST/2026/0001"
    assert state.site == "demo"


# --- consent ---------------------------------------------------------------------------------------


def test_consent_declined_without_override_closes_the_case(opened: Case) -> None:
    # Put a second open task on the case so we can see that closing cancels it.
    consent_task = opened.task(TaskKind.CONSENT)
    extra = consent_task.model_copy(update={"task_id": "extra-1", "kind": TaskKind.CLOSURE})
    opened.state = opened.state.model_copy(update={"tasks": {**opened.state.tasks, "extra-1": extra}})

    opened.advance(minutes=10)
    events = opened.complete(TaskKind.CONSENT, consent_declined())
    assert types(events) == ["ConsentRecorded", "TaskCompleted", "TaskCancelled", "CaseClosed"]
    assert events[0] == ConsentRecorded(decision="declined", scope=())
    assert events[1] == TaskCompleted(task_id=consent_task.task_id)
    assert events[2] == TaskCancelled(task_id="extra-1", reason="consent declined")
    assert events[3] == CaseClosed(reason=ClosureReason.CONSENT_DECLINED)
    state = opened.state
    assert state.stage is Stage.CLOSED
    assert state.close_reason is ClosureReason.CONSENT_DECLINED
    assert state.consent == "declined"
    assert state.tasks[consent_task.task_id].status is TaskStatus.COMPLETED
    assert state.tasks["extra-1"].status is TaskStatus.CANCELLED
    assert state.tasks["extra-1"].closed_at == opened.now
    assert state.open_tasks == []
    assert not any(isinstance(e, TaskOpened) for e in events)


def test_consent_declined_with_safeguarding_override_proceeds_to_screening(opened: Case) -> None:
    consent_task = opened.task(TaskKind.CONSENT)
    events = opened.complete(TaskKind.CONSENT, consent_declined(LawfulBasis.VITAL_INTERESTS))
    assert types(events) == ["ConsentRecorded", "SafeguardingOverrideRecorded", "TaskCompleted", "TaskOpened"]
    assert events[1] == SafeguardingOverrideRecorded(
        lawful_basis=LawfulBasis.VITAL_INTERESTS, justification="serious risk of self-harm tonight"
    )
    assert opened_task(events).due_at == consent_task.due_at
    state = opened.state
    assert state.consent == "declined"
    assert state.safeguarding_override
    assert state.may_proceed_without_consent
    assert state.is_open

    # The override carries the case through screening and assessment...
    opened.complete(TaskKind.SCREENING, screening(assessment_needed=True))
    opened.complete(TaskKind.ASSESSMENT, assessment())
    assert opened.stage() is Stage.INFORMATION_SHARING
    # ...and sharing on a non-consent basis, but never a disclosure that claims consent.
    violation = refused(
        opened, ShareInformation(actor=PRACTITIONER, disclosure=disclosure(Recipient.COURT, LawfulBasis.CONSENT))
    )
    assert violation.rule == "disclosure_needs_consent"
    events = opened.send(
        ShareInformation(actor=PRACTITIONER, disclosure=disclosure(Recipient.COURT, LawfulBasis.SAFEGUARDING))
    )
    assert types(events) == ["InformationShared"]


def test_withdrawing_consent_clears_its_scope(consented: Case) -> None:
    events = consented.send(WithdrawConsent(actor=PRACTITIONER, reason="changed their mind"))
    assert events == [ConsentWithdrawn(reason="changed their mind")]
    assert consented.state.consent == "withdrawn"
    assert consented.state.consent_scope == ()
    assert not consented.state.may_proceed_without_consent
    violation = refused(consented, WithdrawConsent(actor=PRACTITIONER, reason="again"))
    assert violation.rule == "consent_not_given"


def test_consent_cannot_be_withdrawn_before_it_is_given(opened: Case) -> None:
    violation = refused(opened, WithdrawConsent(actor=PRACTITIONER, reason="never asked"))
    assert violation.rule == "consent_not_given"


def test_screening_requires_consent(consented: Case) -> None:
    consented.send(WithdrawConsent(actor=PRACTITIONER, reason="changed their mind"))
    command = CompleteTask(actor=PRACTITIONER, task_id=consented.task(TaskKind.SCREENING).task_id, outcome=screening())
    violation = refused(consented, command)
    assert violation.rule == "screening_requires_consent"
    assert "consent" in violation.message


def test_assessment_needs_consent_covering_assessment(opened: Case) -> None:
    opened.complete(TaskKind.CONSENT, consent_given(ConsentScope.SHARE_POLICE))
    command = CompleteTask(
        actor=PRACTITIONER,
        task_id=opened.task(TaskKind.SCREENING).task_id,
        outcome=screening(assessment_needed=True),
    )
    assert refused(opened, command).rule == "assessment_requires_consent"
    # Without a full assessment the same consent is enough to carry on.
    opened.send(command.model_copy(update={"outcome": screening(assessment_needed=False)}))
    assert opened.stage() is Stage.INFORMATION_SHARING


def test_assessment_refused_after_consent_is_withdrawn(consented: Case) -> None:
    consented.complete(TaskKind.SCREENING, screening(assessment_needed=True))
    consented.send(WithdrawConsent(actor=PRACTITIONER, reason="no longer wants the service"))
    command = CompleteTask(
        actor=PRACTITIONER, task_id=consented.task(TaskKind.ASSESSMENT).task_id, outcome=assessment()
    )
    assert refused(consented, command).rule == "assessment_requires_consent"


# --- closed and unopened cases --------------------------------------------------------------------


def test_every_command_on_a_closed_case_is_refused(consented: Case) -> None:
    screening_task = consented.task(TaskKind.SCREENING).task_id
    events = consented.send(close_command())
    assert types(events) == ["TaskCancelled", "CaseClosed"]
    assert consented.state.tasks[screening_task].status is TaskStatus.CANCELLED
    assert consented.state.close_reason is ClosureReason.TRANSFERRED

    commands: list[Command] = [
        CompleteTask(actor=PRACTITIONER, task_id=screening_task, outcome=screening()),
        ClaimTask(actor=PRACTITIONER, task_id=screening_task),
        ShareInformation(actor=PRACTITIONER, disclosure=disclosure()),
        WithdrawConsent(actor=PRACTITIONER, reason="too late"),
        close_command(),
        MarkOverdue(actor=SYSTEM_ACTOR, task_id=screening_task),
    ]
    for command in commands:
        violation = refused(consented, command)
        assert violation.rule == "case_not_open", type(command).__name__
        assert "closed" in violation.message
    assert refused(consented, open_case()).rule == "case_already_open"


def test_commands_before_the_case_opens_are_refused(case: Case) -> None:
    violation = refused(case, WithdrawConsent(actor=PRACTITIONER, reason="nothing yet"))
    assert violation.rule == "case_not_open"
    assert "not open yet" in violation.message


def test_a_case_opens_once(opened: Case) -> None:
    assert refused(opened, open_case()).rule == "case_already_open"


def test_unknown_command_is_refused(opened: Case) -> None:
    assert refused(opened, Command(actor=PRACTITIONER)).rule == "unknown_command"


# --- opening a case ---------------------------------------------------------------------------------


def test_youth_court_is_for_children(case: Case) -> None:
    violation = refused(case, open_case(Setting.YOUTH_COURT, AgeBand.ADULT))
    assert violation.rule == "youth_court_is_for_children"
    events = case.send(open_case(Setting.YOUTH_COURT, AgeBand.CHILD))
    assert case.state.age_band is AgeBand.CHILD
    assert types(events)[0] == "CaseOpened"


def test_setting_not_served(case: Case) -> None:
    violation = refused(case, open_case(Setting.COMMUNITY))
    assert violation.rule == "setting_not_served"
    assert "community" in violation.message
    assert case.stage() is None


def test_case_belongs_to_the_context_site(case: Case) -> None:
    assert refused(case, open_case(site="elsewhere")).rule == "wrong_site"


def test_auditors_cannot_open_cases(case: Case) -> None:
    assert refused(case, open_case(actor=AUDITOR)).rule == "auditors_read_only"


# --- tasks ------------------------------------------------------------------------------------------


def test_completing_an_unknown_task(opened: Case) -> None:
    command = CompleteTask(actor=PRACTITIONER, task_id="no-such-task", outcome=consent_given())
    violation = refused(opened, command)
    assert violation.rule == "task_unknown"
    assert "no-such-task" in violation.message


def test_completing_a_completed_task(consented: Case) -> None:
    [consent_task] = [t for t in consented.state.tasks.values() if t.kind is TaskKind.CONSENT]
    command = CompleteTask(actor=PRACTITIONER, task_id=consent_task.task_id, outcome=consent_given())
    violation = refused(consented, command)
    assert violation.rule == "task_not_open"
    assert "completed" in violation.message


@pytest.mark.parametrize(
    ("outcome", "fields"),
    [
        ({"decision": "given", "scope": ["assessment"], "colour": "blue"}, ["colour"]),
        ({"decision": "maybe", "scope": ["assessment"]}, ["decision"]),
        ({"decision": "given", "scope": ["assessment", "gossip"]}, ["scope.1"]),
        ({"decision": "given", "scope": "assessment"}, ["scope"]),
        ({"scope": ["assessment"], "extra": 1}, ["decision", "extra"]),
    ],
)
def test_wrong_outcome_names_the_field(opened: Case, outcome: dict[str, JsonValue], fields: list[str]) -> None:
    command = CompleteTask(actor=PRACTITIONER, task_id=opened.task(TaskKind.CONSENT).task_id, outcome=outcome)
    violation = refused(opened, command)
    assert violation.rule == "outcome_invalid"
    assert "consent outcome" in violation.message
    for field in fields:
        assert f"{field}: " in violation.message


def test_wrong_outcome_types_for_screening(consented: Case) -> None:
    outcome = screening()
    outcome["assessment_needed"] = "perhaps"
    outcome["urgency"] = 3
    command = CompleteTask(actor=PRACTITIONER, task_id=consented.task(TaskKind.SCREENING).task_id, outcome=outcome)
    violation = refused(consented, command)
    assert violation.rule == "outcome_invalid"
    assert "assessment_needed: Input should be a valid boolean" in violation.message
    assert "urgency: " in violation.message


def test_inconsistent_outcome_is_refused_with_the_validators_words(opened: Case) -> None:
    command = CompleteTask(
        actor=PRACTITIONER, task_id=opened.task(TaskKind.CONSENT).task_id, outcome={"decision": "given"}
    )
    violation = refused(opened, command)
    assert violation.rule == "outcome_invalid"
    assert "consent given must name at least one scope" in violation.message
    assert "Value error" not in violation.message


@pytest.mark.parametrize("actor", [AUDITOR, LINK_WORKER, OPERATOR, SYSTEM_ACTOR])
def test_roles_that_may_not_complete_a_task(opened: Case, actor: Actor) -> None:
    command = CompleteTask(actor=actor, task_id=opened.task(TaskKind.CONSENT).task_id, outcome=consent_given())
    violation = refused(opened, command)
    assert violation.rule == "role_not_allowed"
    assert str(actor.role) in violation.message


def test_roles_that_may_not_claim_share_or_close(consented: Case) -> None:
    task_id = consented.task(TaskKind.SCREENING).task_id
    assert refused(consented, ClaimTask(actor=AUDITOR, task_id=task_id)).rule == "role_not_allowed"
    share_command = ShareInformation(actor=LINK_WORKER, disclosure=disclosure())
    assert refused(consented, share_command).rule == "role_not_allowed"
    assert refused(consented, close_command(AUDITOR)).rule == "role_not_allowed"
    assert refused(consented, close_command(SYSTEM_ACTOR)).rule == "role_not_allowed"


def test_role_is_checked_before_the_outcome(opened: Case) -> None:
    command = CompleteTask(actor=AUDITOR, task_id=opened.task(TaskKind.CONSENT).task_id, outcome={"nonsense": 1})
    assert refused(opened, command).rule == "role_not_allowed"


def test_task_assigned_to_another_practitioner(opened: Case) -> None:
    events = opened.claim(TaskKind.CONSENT, PRACTITIONER)
    task = opened.task(TaskKind.CONSENT)
    assert events == [TaskClaimed(task_id=task.task_id, assignee=PRACTITIONER.staff_id)]
    assert task.assignee == PRACTITIONER.staff_id

    complete = CompleteTask(actor=OTHER_PRACTITIONER, task_id=task.task_id, outcome=consent_given())
    violation = refused(opened, complete)
    assert violation.rule == "task_assigned_to_other"
    assert PRACTITIONER.staff_id in violation.message
    violation = refused(opened, ClaimTask(actor=OTHER_PRACTITIONER, task_id=task.task_id))
    assert violation.rule == "task_assigned_to_other"
    assert "team lead" in violation.message


def test_team_lead_may_complete_a_task_assigned_to_someone_else(opened: Case) -> None:
    opened.claim(TaskKind.CONSENT, PRACTITIONER)
    task_id = opened.task(TaskKind.CONSENT).task_id
    events = opened.complete(TaskKind.CONSENT, consent_given(), actor=TEAM_LEAD)
    assert TaskCompleted(task_id=task_id) in events
    assert opened.state.tasks[task_id].closed_by == TEAM_LEAD.staff_id


def test_team_lead_may_reassign_by_claiming(opened: Case) -> None:
    opened.claim(TaskKind.CONSENT, PRACTITIONER)
    events = opened.claim(TaskKind.CONSENT, TEAM_LEAD)
    assert types(events) == ["TaskClaimed"]
    assert opened.task(TaskKind.CONSENT).assignee == TEAM_LEAD.staff_id
    # Now the original practitioner is the "other" one.
    complete = CompleteTask(actor=PRACTITIONER, task_id=opened.task(TaskKind.CONSENT).task_id, outcome=consent_given())
    assert refused(opened, complete).rule == "task_assigned_to_other"


def test_the_assignee_completes_their_own_task(opened: Case) -> None:
    opened.claim(TaskKind.CONSENT, OTHER_PRACTITIONER)
    opened.complete(TaskKind.CONSENT, consent_given(), actor=OTHER_PRACTITIONER)
    [consent_task] = [t for t in opened.state.tasks.values() if t.kind is TaskKind.CONSENT]
    assert consent_task.closed_by == OTHER_PRACTITIONER.staff_id
    assert consent_task.assignee == OTHER_PRACTITIONER.staff_id


def test_claiming_your_own_task_again_changes_nothing(opened: Case) -> None:
    opened.claim(TaskKind.CONSENT, PRACTITIONER)
    version = opened.state.version
    before = opened.state
    assert opened.claim(TaskKind.CONSENT, PRACTITIONER) == []
    assert opened.state == before
    assert opened.state.version == version


def test_claiming_an_unknown_or_finished_task(consented: Case) -> None:
    assert refused(consented, ClaimTask(actor=PRACTITIONER, task_id="ghost")).rule == "task_unknown"
    [consent_task] = [t for t in consented.state.tasks.values() if t.kind is TaskKind.CONSENT]
    violation = refused(consented, ClaimTask(actor=PRACTITIONER, task_id=consent_task.task_id))
    assert violation.rule == "task_not_open"


# --- information sharing ------------------------------------------------------------------------------


def test_sharing_requires_consent_or_override(opened: Case) -> None:
    command = ShareInformation(actor=PRACTITIONER, disclosure=disclosure(basis=LawfulBasis.PUBLIC_TASK))
    assert refused(opened, command).rule == "sharing_requires_consent"


def test_disclosure_on_consent_needs_the_scope(consented: Case) -> None:
    # Consent covers assessment, police and court; not the CPS.
    to_cps = ShareInformation(actor=PRACTITIONER, disclosure=disclosure(Recipient.CPS, LawfulBasis.CONSENT))
    violation = refused(consented, to_cps)
    assert violation.rule == "disclosure_needs_consent"
    assert "share_cps" in violation.message

    events = consented.send(to_cps.model_copy(update={"disclosure": disclosure(Recipient.COURT)}))
    assert types(events) == ["InformationShared"]
    events = consented.send(
        to_cps.model_copy(update={"disclosure": disclosure(Recipient.CPS, LawfulBasis.LEGAL_OBLIGATION)})
    )
    assert types(events) == ["InformationShared"]
    assert [d.recipient for d in consented.state.disclosures] == [Recipient.COURT, Recipient.CPS]
    assert consented.stage() is Stage.SCREENING  # sharing outside the task moves no stage


def test_share_information_task_checks_every_disclosure(consented: Case) -> None:
    consented.complete(TaskKind.SCREENING, screening(assessment_needed=False))
    outcome = share(disclosure(Recipient.COURT), disclosure(Recipient.PROBATION))
    command = CompleteTask(
        actor=PRACTITIONER, task_id=consented.task(TaskKind.SHARE_INFORMATION).task_id, outcome=outcome
    )
    violation = refused(consented, command)
    assert violation.rule == "disclosure_needs_consent"
    assert "probation" in violation.message


# --- instruments --------------------------------------------------------------------------------------


@pytest.mark.parametrize("instrument", [("ld-screen", "1"), ("phq-9", "2"), ("chat", "4")])
def test_screening_instrument_must_be_configured(consented: Case, instrument: tuple[str, str]) -> None:
    command = CompleteTask(
        actor=PRACTITIONER,
        task_id=consented.task(TaskKind.SCREENING).task_id,
        outcome=screening(instrument=instrument),
    )
    violation = refused(consented, command)
    assert violation.rule == "instrument_not_configured"
    assert "ld-screen 2" in violation.message  # it says what is configured


def test_assessment_instrument_must_suit_the_age_band(consented: Case) -> None:
    consented.complete(TaskKind.SCREENING, screening())
    command = CompleteTask(
        actor=PRACTITIONER,
        task_id=consented.task(TaskKind.ASSESSMENT).task_id,
        outcome=assessment(CHILD_ASSESSMENT),
    )
    violation = refused(consented, command)
    assert violation.rule == "instrument_not_configured"
    assert "ld-assess 1" in violation.message
    assert "chat" not in violation.message.split("configured:")[1]


def test_children_are_assessed_with_the_child_instrument(case: Case) -> None:
    case.send(open_case(Setting.YOUTH_COURT, AgeBand.CHILD))
    consent = CompleteTask(actor=PRACTITIONER, task_id=case.task(TaskKind.CONSENT).task_id, outcome=consent_given())
    assert refused(case, consent).rule == "guardian_involvement_required"
    case.complete(TaskKind.CONSENT, consent_given(guardian=True))
    assert case.state.consent == "given"
    case.complete(TaskKind.SCREENING, screening())
    task_id = case.task(TaskKind.ASSESSMENT).task_id
    command = CompleteTask(actor=PRACTITIONER, task_id=task_id, outcome=assessment(ADULT_ASSESSMENT))
    assert refused(case, command).rule == "instrument_not_configured"
    case.send(command.model_copy(update={"outcome": assessment(CHILD_ASSESSMENT)}))
    assert case.stage() is Stage.INFORMATION_SHARING


def test_a_site_without_instruments_accepts_any(site: SiteConfig) -> None:
    bare = site.model_copy(update={"screening_instruments": (), "assessment_instruments": ()})
    case = Case(bare)
    case.send(open_case())
    case.complete(TaskKind.CONSENT, consent_given())
    case.complete(TaskKind.SCREENING, screening(instrument=("anything", "9")))
    case.complete(TaskKind.ASSESSMENT, assessment(("whatever", "0.1")))
    assert case.stage() is Stage.INFORMATION_SHARING


# --- SLA timers ---------------------------------------------------------------------------------------


def test_mark_overdue_before_and_after_the_due_time(opened: Case) -> None:
    task = opened.task(TaskKind.CONSENT)
    command = MarkOverdue(actor=SYSTEM_ACTOR, task_id=task.task_id)

    opened.now = task.due_at - timedelta(seconds=1)
    violation = refused(opened, command)
    assert violation.rule == "not_yet_due"
    assert not opened.state.overdue

    opened.now = task.due_at
    assert opened.send(command) == [TaskBecameOverdue(task_id=task.task_id)]
    assert opened.task(TaskKind.CONSENT).overdue
    assert opened.state.overdue

    opened.advance(hours=1)
    assert refused(opened, command).rule == "already_overdue"

    # Completing an overdue task clears the case's overdue flag.
    opened.complete(TaskKind.CONSENT, consent_given())
    assert not opened.state.overdue
    assert refused(opened, command).rule == "task_not_open"


def test_mark_overdue_unknown_task(opened: Case) -> None:
    assert refused(opened, MarkOverdue(actor=SYSTEM_ACTOR, task_id="ghost")).rule == "task_unknown"


# --- structural guards ----------------------------------------------------------------------------------


def test_a_task_cannot_move_a_case_against_the_transitions(consented: Case) -> None:
    consented.complete(TaskKind.SCREENING, screening())
    # A state the rules never produce: an assessment task open while the case is in follow-up.
    consented.state = consented.state.model_copy(update={"stage": Stage.FOLLOW_UP})
    command = CompleteTask(
        actor=PRACTITIONER, task_id=consented.task(TaskKind.ASSESSMENT).task_id, outcome=assessment()
    )
    violation = refused(consented, command)
    assert violation.rule == "stage_transition"
    assert Stage.INFORMATION_SHARING not in TRANSITIONS[Stage.FOLLOW_UP]


def test_transitions_cover_every_stage_and_closed_is_terminal() -> None:
    assert set(TRANSITIONS) == set(Stage)
    assert TRANSITIONS[Stage.CLOSED] == frozenset()
    for stage, targets in TRANSITIONS.items():
        assert stage not in targets
        assert Stage.IDENTIFIED not in targets


def test_decide_is_pure(consented: Case) -> None:
    command = CompleteTask(actor=PRACTITIONER, task_id=consented.task(TaskKind.SCREENING).task_id, outcome=screening())
    before = consented.state.model_copy(deep=True)
    first = consented.decide(command)
    consented.ids.count -= 1  # rewind the one id the first decision used
    second = consented.decide(command)
    assert first == second
    assert consented.state == before


def test_rule_violation_carries_rule_and_message() -> None:
    error = RuleViolation(Rule.CASE_NOT_OPEN, "it was refused")
    assert error.rule == "case_not_open"
    assert error.message == "it was refused"
    assert str(error) == "it was refused (rule: case_not_open)"


def test_close_case_by_team_lead_cancels_open_tasks(consented: Case) -> None:
    screening_id = consented.task(TaskKind.SCREENING).task_id
    outcome = ClosureOutcome(reason=ClosureReason.RELEASED_BEFORE_CONTACT, justice_outcome=JusticeOutcome.NOT_KNOWN)
    events = consented.send(CloseCase(actor=TEAM_LEAD, outcome=outcome))
    assert events == [
        TaskCancelled(task_id=screening_id, reason="case closed"),
        CaseClosed(reason=ClosureReason.RELEASED_BEFORE_CONTACT, justice_outcome=JusticeOutcome.NOT_KNOWN),
    ]
    assert consented.state.open_tasks == []
    assert consented.state.justice_outcome is JusticeOutcome.NOT_KNOWN


def test_auditors_never_complete_tasks_and_team_leads_always_may() -> None:
    assert Role.AUDITOR not in CANDIDATE_ROLES[TaskKind.CLOSURE]
    assert all(Role.TEAM_LEAD in roles for roles in CANDIDATE_ROLES.values())


def test_only_practitioners_and_team_leads_record_a_withdrawal_of_consent(consented: Case) -> None:
    for actor in (AUDITOR, LINK_WORKER, SYSTEM_ACTOR):
        violation = refused(consented, WithdrawConsent(actor=actor, reason="changed their mind"))
        assert violation.rule == "role_not_allowed"
    assert consented.state.consent == "given"
    assert types(consented.send(WithdrawConsent(actor=TEAM_LEAD, reason="changed their mind"))) == ["ConsentWithdrawn"]


def test_only_the_workflow_marks_a_task_overdue(opened: Case) -> None:
    task = opened.task(TaskKind.CONSENT)
    opened.now = task.due_at
    for actor in (PRACTITIONER, TEAM_LEAD, AUDITOR):
        assert refused(opened, MarkOverdue(actor=actor, task_id=task.task_id)).rule == "role_not_allowed"
    assert not opened.state.overdue


def test_after_withdrawal_sharing_needs_another_lawful_basis_by_command_or_task(consented: Case) -> None:
    consented.send(WithdrawConsent(actor=PRACTITIONER, reason="changed their mind"))
    on_consent = ShareInformation(actor=PRACTITIONER, disclosure=disclosure(Recipient.COURT, LawfulBasis.CONSENT))
    assert refused(consented, on_consent).rule == "disclosure_needs_consent"
    on_safeguarding = on_consent.model_copy(
        update={"disclosure": disclosure(Recipient.COURT, LawfulBasis.SAFEGUARDING)}
    )
    assert types(consented.send(on_safeguarding)) == ["InformationShared"]


def test_a_reason_of_only_spaces_is_no_reason() -> None:
    with pytest.raises(ValidationError, match="give a reason"):
        ShareInformationOutcome(disclosures=[], reason_if_none="   ")


def test_a_team_lead_reassigns_a_task_to_someone_who_can_do_it(opened: Case) -> None:
    task = opened.task(TaskKind.CONSENT)
    give = ReassignTask(actor=TEAM_LEAD, task_id=task.task_id, assignee="prac-2", assignee_role=Role.PRACTITIONER)
    assert refused(opened, give.model_copy(update={"actor": PRACTITIONER})).rule == "role_not_allowed"
    to_link_worker = give.model_copy(update={"assignee": "link-1", "assignee_role": Role.LINK_WORKER})
    assert refused(opened, to_link_worker).rule == "assignee_cannot_do_task"
    assert opened.send(give) == [TaskReassigned(task_id=task.task_id, assignee="prac-2", previous=None)]
    assert opened.task(TaskKind.CONSENT).assignee == "prac-2"
    assert refused(opened, give).rule == "already_assigned"
