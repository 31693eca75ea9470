"""The pathway rules: given a case's state and a command, the events it produces, or the rule it breaks.

`decide` is pure. Ids and time come in through `DecisionContext` so the workflow can supply
deterministic ones (`workflow.uuid4()`, `workflow.now()`).
"""

from collections.abc import Callable
from datetime import datetime

from domain.access import Action, acts_for_a_service, require_allowed, service_actor
from domain.care_after_custody import engagement_recorded, record_release
from domain.cohorts import suggested_services
from domain.commands import (
    ChangeCohort,
    ChaseReferral,
    ClaimTask,
    CloseCase,
    Command,
    CompleteTask,
    EndSupport,
    EscalateReferral,
    EscalateTask,
    LinkPerson,
    MarkOverdue,
    OpenCase,
    OpenScheduledTask,
    ReassignTask,
    RecordCourtReportDelivered,
    RecordDateOfBirth,
    RecordJusticeOutcome,
    RecordReferralOutcome,
    RecordReferralSendFailed,
    RecordReferralSent,
    RecordReleaseDate,
    RequestCourtReport,
    SendReminder,
    ShareInformation,
    UnlinkPerson,
    WithdrawConsent,
)
from domain.config import SiteConfig
from domain.court import record_delivery, record_hearing, request_report, submit_report
from domain.decisions import (
    DecisionContext,
    enter,
    new_task,
    open_scheduled,
    open_task,
    require,
    require_role,
    setting_of,
)
from domain.errors import Rule, RuleViolation
from domain.events import (
    AssessmentRecorded,
    CaseClosed,
    CaseOpened,
    ConsentRecorded,
    ConsentWithdrawn,
    DomainEvent,
    InformationShared,
    JusticeOutcomeRecorded,
    ReferralChased,
    ReferralEscalated,
    ReferralMade,
    ReferralOutcomeRecorded,
    ReferralSendFailed,
    ReferralSent,
    ReminderSent,
    SafeguardingOverrideRecorded,
    ScreeningRecorded,
    StageEntered,
    TaskBecameOverdue,
    TaskCancelled,
    TaskClaimed,
    TaskCompleted,
    TaskEscalated,
    TaskOpened,
    TaskReassigned,
)
from domain.identification import age_band_of, identification_time, record_date_of_birth
from domain.link_work import (
    after_contact,
    after_follow_up,
    after_review,
    closure_gate,
    end_support,
    start_support,
)
from domain.model import Actor, AgeBand, Role, Setting, Stage
from domain.outcomes import (
    AssessmentOutcome,
    ChaseReferralOutcome,
    ClosureOutcome,
    ClosureReason,
    ConsentOutcome,
    ConsentScope,
    ContactOutcome,
    CourtReportOutcome,
    Disclosure,
    DisengagementReviewOutcome,
    FollowUpOutcome,
    HearingOutcome,
    LawfulBasis,
    PersonMatchOutcome,
    ReconnectEngagementOutcome,
    ReferralDecisionOutcome,
    ReferralRequest,
    ReferralStatus,
    ScreeningOutcome,
    ShareInformationOutcome,
    Urgency,
)
from domain.people import (
    after_person_match,
    link_person,
    people_after_date_of_birth,
    people_at_opening,
    unlink_person,
)
from domain.reconnect import OpenHandedOffEpisode, open_handed_off_episode
from domain.services import consent_scope_needed, require_referable_by_hand
from domain.sla import add_service_minutes
from domain.state import CaseState, Referral, referral
from domain.tasks import CANDIDATE_ROLES, Task, TaskKind, TaskStatus, parse_outcome
from domain.womens_pathway import change_cohort, offered_at_screening

# A referral's lifecycle: which answers may follow which (drafted -> sent is the workflow's own).
REFERRAL_TRANSITIONS: dict[ReferralStatus, frozenset[ReferralStatus]] = {
    ReferralStatus.DRAFTED: frozenset({ReferralStatus.SENT}),
    ReferralStatus.SENT: frozenset(
        {ReferralStatus.ACCEPTED, ReferralStatus.REJECTED, ReferralStatus.DECLINED_BY_PERSON}
    ),
    ReferralStatus.ACCEPTED: frozenset(
        {ReferralStatus.ATTENDED, ReferralStatus.DID_NOT_ATTEND, ReferralStatus.DECLINED_BY_PERSON}
    ),
    ReferralStatus.DID_NOT_ATTEND: frozenset({ReferralStatus.ATTENDED, ReferralStatus.DISENGAGED}),
    ReferralStatus.ATTENDED: frozenset({ReferralStatus.ENGAGED, ReferralStatus.DISENGAGED}),
    ReferralStatus.ENGAGED: frozenset({ReferralStatus.DISENGAGED, ReferralStatus.CLOSED}),
    ReferralStatus.DISENGAGED: frozenset({ReferralStatus.CLOSED}),
    ReferralStatus.REJECTED: frozenset({ReferralStatus.CLOSED}),
    ReferralStatus.DECLINED_BY_PERSON: frozenset({ReferralStatus.CLOSED}),
    ReferralStatus.CLOSED: frozenset(),
}


def decide(state: CaseState, command: Command, ctx: DecisionContext) -> list[DomainEvent]:
    """The events `command` produces on `state`; raises RuleViolation naming the rule it breaks."""
    require(
        command.expected_version in (None, state.version),
        Rule.CASE_VERSION_CHANGED,
        f"case {state.case_id} has changed since version {command.expected_version} (it is at version "
        f"{state.version} now): read it again before changing it",
    )
    match command:
        case OpenCase():
            return _open_case(state, command, ctx)
        case OpenHandedOffEpisode():
            return open_handed_off_episode(state, command, ctx)
        case RecordReferralSent() | RecordReferralSendFailed() if state.stage is Stage.CLOSED:
            # What happened to a send under way when the case closed is a fact about the world: it is
            # recorded, though the case opens nothing more for it (closure stops chasing, not the record).
            return _delivery(state, command, ctx)
        case LinkPerson() if state.stage is Stage.CLOSED:  # the record corrected after the episode
            return link_person(state, command)
        case UnlinkPerson() if state.stage is Stage.CLOSED:
            return unlink_person(state, command)
    require(state.is_open, Rule.CASE_NOT_OPEN, f"case {state.case_id} is {_stage_words(state)}")
    match command:
        case CompleteTask():
            return _complete_task(state, command, ctx)
        case ClaimTask():
            return _claim_task(state, command)
        case ReassignTask():
            require_allowed(command.actor, Action.REASSIGN_TASK)
            task = open_task(state, command.task_id)
            require(
                command.assignee_role in task.candidate_roles,
                Rule.ASSIGNEE_CANNOT_DO_TASK,
                f"a {command.assignee_role} cannot do a {task.kind} task (allowed: {', '.join(task.candidate_roles)})",
            )
            require(
                command.assignee_sites is None or task.site in command.assignee_sites,
                Rule.ASSIGNEE_ELSEWHERE,
                f"{command.assignee} does not work at site {task.site}",
            )
            require(task.assignee != command.assignee, Rule.ALREADY_ASSIGNED, f"task {task.task_id} is theirs already")
            return [TaskReassigned(task_id=task.task_id, assignee=command.assignee, previous=task.assignee)]
        case LinkPerson():
            return link_person(state, command)
        case UnlinkPerson():
            return unlink_person(state, command)
        case RecordReleaseDate():
            require_allowed(command.actor, Action.RECORD_RELEASE_DATE)
            return record_release(state, command, ctx)
        case RecordJusticeOutcome():
            require_allowed(command.actor, Action.RECORD_JUSTICE_OUTCOME)
            require(
                command.outcome is not state.justice_outcome,
                Rule.JUSTICE_OUTCOME_UNCHANGED,
                f"the justice outcome is already {command.outcome}",
            )
            return [JusticeOutcomeRecorded(outcome=command.outcome, source="practitioner")]
        case ChangeCohort():
            require_allowed(command.actor, Action.CHANGE_COHORT)
            return change_cohort(state, command)
        case RecordDateOfBirth():
            require_allowed(command.actor, Action.RECORD_DATE_OF_BIRTH)
            return [*record_date_of_birth(state, command), *people_after_date_of_birth(state, command, ctx)]
        case ShareInformation():
            require_allowed(command.actor, Action.SHARE_INFORMATION)
            # The same test as the share_information task: once consent has been asked, a disclosure
            # needs consent that covers it or another lawful basis.
            require(
                state.consent != "not_asked",
                Rule.SHARING_REQUIRES_CONSENT,
                "information can only be shared once the person has been asked for consent",
            )
            _check_disclosure(state, command.disclosure, ctx)
            return [InformationShared(disclosure=command.disclosure)]
        case WithdrawConsent():
            require_allowed(command.actor, Action.WITHDRAW_CONSENT)
            require(state.consent == "given", Rule.CONSENT_NOT_GIVEN, "there is no consent to withdraw")
            return [ConsentWithdrawn(reason=command.reason)]
        case RecordReferralOutcome():
            _require_may_answer(state, command)
            return _referral_outcome(state, command.referral_id, command.status, command.reason)
        case RecordReferralSent() | RecordReferralSendFailed():
            return _delivery(state, command, ctx)
        case ChaseReferral():
            require_role(command.actor, (Role.SYSTEM,), "chase a referral")
            chased = _referral(state, command.referral_id)
            require(
                chased.status is ReferralStatus.SENT and not chased.chased,
                Rule.REFERRAL_NOT_CHASEABLE,
                f"referral {chased.referral_id} needs no chase",
            )
            chase = new_task(
                ctx, TaskKind.CHASE_REFERRAL, setting_of(state), chased.request.urgency, referral_id=chased.referral_id
            )
            return [ReferralChased(referral_id=chased.referral_id), chase]
        case EscalateReferral():
            require_role(command.actor, (Role.SYSTEM,), "escalate a referral")
            late = _referral(state, command.referral_id)
            require(
                late.status is ReferralStatus.SENT and not late.escalated,
                Rule.REFERRAL_NOT_ESCALATABLE,
                f"referral {late.referral_id} needs no escalation",
            )
            chase_tasks = [t for t in state.open_tasks if t.referral_id == late.referral_id and not t.escalated]
            return [
                ReferralEscalated(referral_id=late.referral_id),
                *(TaskEscalated(task_id=t.task_id) for t in chase_tasks),
            ]
        case CloseCase():
            require_allowed(command.actor, Action.CLOSE_CASE)
            return _close(state, command.outcome, "case closed")
        case RecordCourtReportDelivered():
            require_role(command.actor, (Role.SYSTEM,), "record a court report as delivered")
            return record_delivery(state, command.report_id, command.recipients)
        case RequestCourtReport():
            require_allowed(command.actor, Action.REQUEST_COURT_REPORT)
            return request_report(state, command, ctx)
        case EndSupport():
            require_role(command.actor, (Role.SYSTEM,), "end support")
            return end_support(state, ctx, "time_limit_reached")
        case OpenScheduledTask():
            require_role(command.actor, (Role.SYSTEM,), "open a scheduled task")
            return open_scheduled(state, command.task_id, ctx)
        case MarkOverdue():
            task = _timer_task(state, command, ctx.now, task_due=True)
            require(not task.overdue, Rule.ALREADY_OVERDUE, f"task {task.task_id} is already overdue")
            return [TaskBecameOverdue(task_id=task.task_id)]
        case SendReminder():
            task = _timer_task(state, command, ctx.now, task_due=False, at=_remind_at)
            require(not task.reminded and not task.overdue, Rule.REMINDER_NOT_NEEDED, f"task {task.task_id} needs none")
            return [ReminderSent(task_id=task.task_id)]
        case EscalateTask():
            task = _timer_task(state, command, ctx.now, task_due=False, at=_escalate_at)
            require(not task.escalated, Rule.ALREADY_ESCALATED, f"task {task.task_id} is already escalated")
            return [TaskEscalated(task_id=task.task_id)]
    raise RuleViolation(Rule.UNKNOWN_COMMAND, f"{type(command).__name__} is not a case command")


def _open_case(state: CaseState, command: OpenCase, ctx: DecisionContext) -> list[DomainEvent]:
    require(state.stage is None, Rule.CASE_ALREADY_OPEN, f"case {state.case_id} is already open")
    site = ctx.site
    require(command.site == site.site_id, Rule.WRONG_SITE, f"this case belongs to site {site.site_id}")
    require(
        command.setting in site.settings,
        Rule.SETTING_NOT_SERVED,
        f"site {site.site_id} does not operate in the {command.setting} setting",
    )
    age_band = age_band_of(command)
    require(
        command.setting is not Setting.YOUTH_COURT or age_band is AgeBand.CHILD,
        Rule.YOUTH_COURT_IS_FOR_CHILDREN,
        "the youth court setting is only for children (10-17)",
    )
    require(command.actor.role is not Role.AUDITOR, Rule.AUDITORS_READ_ONLY, "auditors cannot open cases")
    identified = identification_time(command, ctx)
    opened = CaseOpened(
        site=command.site,
        setting=command.setting,
        source=command.source,
        external_ref=command.external_ref,
        age_band=age_band,
        cohorts=tuple(dict.fromkeys(command.cohorts)),
        person=command.person,
        sex=command.sex,
        identified_at=command.identified_at,
        age_verified=command.age_verified,
        person_id=command.person_id,
    )
    # The SLA counts from identification: an alert entered late may open its first task overdue.
    due = add_service_minutes(site.operating_hours, identified, site.sla_minutes(TaskKind.CONSENT, command.setting))
    consent = new_task(ctx, TaskKind.CONSENT, command.setting, Urgency.URGENT, due_at=due)
    overdue = [TaskBecameOverdue(task_id=consent.task.task_id)] if due <= ctx.now else []
    screening = StageEntered(stage=Stage.SCREENING, previous=Stage.IDENTIFIED)
    return [opened, screening, consent, *overdue, *people_at_opening(state, command, ctx)]


def task_to_complete(state: CaseState, task_id: str, actor: Actor) -> Task:
    """The open task this person may complete; which rule refuses them, if not. (The edge asks this
    before it seals an outcome, so refusals come in the same order there as here.)"""
    task = open_task(state, task_id)
    require_role(actor, CANDIDATE_ROLES[task.kind], f"complete a {task.kind} task")
    require(
        task.assignee in (None, actor.staff_id) or actor.role is Role.TEAM_LEAD,
        Rule.TASK_ASSIGNED_TO_OTHER,
        f"task {task.task_id} is assigned to {task.assignee}",
    )
    return task


def _complete_task(state: CaseState, command: CompleteTask, ctx: DecisionContext) -> list[DomainEvent]:
    task = task_to_complete(state, command.task_id, command.actor)
    outcome = parse_outcome(task.kind, command.outcome)
    done = TaskCompleted(task_id=task.task_id)
    match outcome:
        case ConsentOutcome():
            return _after_consent(state, task, outcome, done, ctx)
        case ScreeningOutcome():
            return _after_screening(state, outcome, done, ctx)
        case AssessmentOutcome():
            _require_consent_for_assessment(state)
            _require_instrument(state, ctx.site, outcome.instrument, outcome.instrument_version, "assessment")
            return [
                AssessmentRecorded(outcome=outcome),
                done,
                *enter(state, Stage.INFORMATION_SHARING),
                new_task(ctx, TaskKind.SHARE_INFORMATION, setting_of(state), _priority(state)),
            ]
        case ShareInformationOutcome():
            for disclosure in outcome.disclosures:
                _check_disclosure(state, disclosure, ctx)
            return [
                *(InformationShared(disclosure=d) for d in outcome.disclosures),
                done,
                *enter(state, Stage.REFERRAL),
                _referral_decision_task(state, ctx),
            ]
        case ReferralDecisionOutcome():
            for chosen in outcome.referrals:
                require_referable_by_hand(chosen.service, state.age_band, ctx)
            requests = [_with_service(ctx.site, request) for request in outcome.referrals]
            made = [ReferralMade(referral_id=ctx.new_id(), request=r) for r in requests]
            if outcome.link_work_goals:
                return [*made, done, *start_support(state, outcome.link_work_goals, ctx)]
            return [*made, done, new_task(ctx, TaskKind.CLOSURE, setting_of(state), Urgency.ROUTINE)]
        case CourtReportOutcome():
            return submit_report(state, task, outcome, done, ctx)
        case HearingOutcome():
            return record_hearing(state, task, outcome, done, ctx)
        case ContactOutcome():
            return after_contact(state, outcome, done, ctx)
        case DisengagementReviewOutcome():
            return after_review(state, outcome, done, ctx)
        case FollowUpOutcome():
            return after_follow_up(state, outcome, done, ctx)
        case ChaseReferralOutcome():
            assert task.referral_id is not None
            if outcome.answer == "no_answer_yet":
                return [done]
            answer = ReferralStatus.ACCEPTED if outcome.answer == "accepted" else ReferralStatus.REJECTED
            answered = _referral_outcome(state, task.referral_id, answer, outcome.reason)
            return [done, *(e for e in answered if not isinstance(e, TaskCancelled))]
        case ClosureOutcome():
            return _close(state, outcome, "case closed", completed=done)
        case ReconnectEngagementOutcome():
            return engagement_recorded(outcome, done)
        case PersonMatchOutcome():
            return after_person_match(state, task, outcome, done)
    raise RuleViolation(Rule.UNKNOWN_TASK_KIND, f"tasks of kind {task.kind} cannot be completed here")


def _referral_decision_task(state: CaseState, ctx: DecisionContext) -> TaskOpened:
    opened = new_task(ctx, TaskKind.REFERRAL_DECISION, setting_of(state), _priority(state))
    return TaskOpened(task=opened.task.model_copy(update={"suggested_services": suggested_services(state)}))


def _after_consent(
    state: CaseState, task: Task, outcome: ConsentOutcome, done: TaskCompleted, ctx: DecisionContext
) -> list[DomainEvent]:
    require(
        state.age_band is not AgeBand.CHILD or outcome.parent_or_guardian_involved is not None,
        Rule.GUARDIAN_INVOLVEMENT_REQUIRED,
        "for a child, record whether a parent or guardian was involved in the consent",
    )
    recorded = ConsentRecorded(
        decision=outcome.decision,
        scope=tuple(dict.fromkeys(outcome.scope)),
        parent_or_guardian_involved=outcome.parent_or_guardian_involved,
    )
    # Screening keeps the SLA deadline the consent task started: both count from identification.
    screening = new_task(ctx, TaskKind.SCREENING, setting_of(state), task.priority, due_at=task.due_at)
    if outcome.decision == "given":
        return [recorded, done, screening]
    if outcome.safeguarding_override is not None:
        override = SafeguardingOverrideRecorded(
            lawful_basis=outcome.safeguarding_override.lawful_basis,
            justification=outcome.safeguarding_override.justification,
        )
        return [recorded, override, done, screening]
    closure = ClosureOutcome(reason=ClosureReason.CONSENT_DECLINED)
    return [recorded, *_close(state, closure, "consent declined", completed=done)]


def _after_screening(
    state: CaseState, outcome: ScreeningOutcome, done: TaskCompleted, ctx: DecisionContext
) -> list[DomainEvent]:
    require(
        state.may_proceed_without_consent,
        Rule.SCREENING_REQUIRES_CONSENT,
        "screening can only be recorded after consent is given or a safeguarding override recorded",
    )
    _require_instrument(state, ctx.site, outcome.instrument, outcome.instrument_version, "screening")
    if outcome.assessment_needed:
        _require_consent_for_assessment(state)
        next_stage, next_kind = Stage.ASSESSMENT, TaskKind.ASSESSMENT
    else:
        next_stage, next_kind = Stage.INFORMATION_SHARING, TaskKind.SHARE_INFORMATION
    return [
        ScreeningRecorded(outcome=outcome),
        *offered_at_screening(state, outcome),
        done,
        *enter(state, next_stage),
        new_task(ctx, next_kind, setting_of(state), outcome.urgency),
    ]


def _with_service(site: SiteConfig, request: ReferralRequest) -> ReferralRequest:
    """The request with the directory service it goes to; refused if none covers the site."""
    offered = [s for s in site.services if s.type is request.service]
    if request.service_id is not None:
        chosen = [s for s in offered if s.service_id == request.service_id]
        require(
            bool(chosen),
            Rule.SERVICE_NOT_AVAILABLE,
            f"service {request.service_id} is not a {request.service} service covering site {site.site_id}",
        )
    else:
        chosen = offered
        require(bool(chosen), Rule.SERVICE_NOT_AVAILABLE, f"no {request.service} service covers site {site.site_id}")
    return request.model_copy(update={"service_id": chosen[0].service_id})


def _referral(state: CaseState, referral_id: str) -> Referral:
    found = referral(state, referral_id)
    require(found is not None, Rule.REFERRAL_UNKNOWN, f"case {state.case_id} has no referral {referral_id}")
    assert found is not None
    return found


def _delivery(
    state: CaseState, command: RecordReferralSent | RecordReferralSendFailed, ctx: DecisionContext
) -> list[DomainEvent]:
    """What the referral's workflow reports of its send: sent, or not deliverable (on an open case, with
    an urgent chase task: someone has to reach the service another way; a closed case opens none)."""
    if isinstance(command, RecordReferralSent):
        require_role(command.actor, (Role.SYSTEM,), "record a referral as sent")
        sent = _referral(state, command.referral_id)
        require(
            sent.status is ReferralStatus.DRAFTED,
            Rule.REFERRAL_ALREADY_SENT,
            f"referral {sent.referral_id} is {sent.status}",
        )
        return [ReferralSent(referral_id=sent.referral_id, channel=command.channel)]
    require_role(command.actor, (Role.SYSTEM,), "record a failed referral")
    failed = _referral(state, command.referral_id)
    require(
        failed.status is ReferralStatus.DRAFTED and failed.send_failed is None,
        Rule.REFERRAL_ALREADY_SENT,
        f"referral {failed.referral_id} is {failed.status}",
    )
    recorded = ReferralSendFailed(referral_id=failed.referral_id, reason=command.reason)
    if not state.is_open:
        return [recorded]
    chase = new_task(ctx, TaskKind.CHASE_REFERRAL, setting_of(state), Urgency.URGENT, referral_id=failed.referral_id)
    return [recorded, chase]


def _require_may_answer(state: CaseState, command: RecordReferralOutcome) -> None:
    """Staff by the matrix; the system only in the name of the service the referral was made to (its
    own system's word, read back by the worker: domain/fhir_task_updates.py)."""
    if not acts_for_a_service(command.actor):
        require_allowed(command.actor, Action.RECORD_REFERRAL_OUTCOME)
        return
    service_id = _referral(state, command.referral_id).request.service_id
    require(
        service_id is not None and command.actor == service_actor(service_id),
        Rule.ROLE_NOT_ALLOWED,
        f"only the service referral {command.referral_id} was made to can answer it on its own",
    )


def require_rejection_reason(status: ReferralStatus, reason: str) -> None:
    """A rejected referral needs the service's reason. The workflow sees the reason sealed, where even
    an empty one is text, so the service asks this of the plaintext too (domain/plaintext.py)."""
    require(
        status is not ReferralStatus.REJECTED or bool(reason),
        Rule.REASON_REQUIRED,
        "give the service's reason for rejecting the referral",
    )


def _referral_outcome(state: CaseState, referral_id: str, status: ReferralStatus, reason: str) -> list[DomainEvent]:
    current = _referral(state, referral_id)
    # A referral that could not be sent may still be answered once someone reached the service.
    was = ReferralStatus.SENT if current.send_failed and current.status is ReferralStatus.DRAFTED else current.status
    require(
        was is not ReferralStatus.DRAFTED,
        Rule.REFERRAL_NOT_SENT,
        f"referral {referral_id} has not been sent yet, so there can be no answer to it",
    )
    require(
        status in REFERRAL_TRANSITIONS[was],
        Rule.REFERRAL_TRANSITION,
        f"a referral that is {current.status} cannot become {status}",
    )
    require_rejection_reason(status, reason)
    # An answer makes any open chase of this referral pointless.
    chases = [t for t in state.open_tasks if t.referral_id == referral_id]
    return [
        ReferralOutcomeRecorded(referral_id=referral_id, status=status, reason=reason),
        *(TaskCancelled(task_id=t.task_id, reason="the service answered") for t in chases),
    ]


def _claim_task(state: CaseState, command: ClaimTask) -> list[DomainEvent]:
    task = open_task(state, command.task_id)
    require_role(command.actor, CANDIDATE_ROLES[task.kind], f"claim a {task.kind} task")
    if task.assignee == command.actor.staff_id:
        return []  # claiming your own task again changes nothing
    require(
        task.assignee is None or command.actor.role is Role.TEAM_LEAD,
        Rule.TASK_ASSIGNED_TO_OTHER,
        f"task {task.task_id} is assigned to {task.assignee}; a team lead can reassign it",
    )
    return [TaskClaimed(task_id=task.task_id, assignee=command.actor.staff_id)]


def _close(
    state: CaseState, outcome: ClosureOutcome, why: str, completed: TaskCompleted | None = None
) -> list[DomainEvent]:
    closure_gate(state, outcome.reason)
    done_id = completed.task_id if completed else None
    cancelled: list[DomainEvent] = [
        TaskCancelled(task_id=task.task_id, reason=why)
        for task in state.tasks.values()
        if task.status in (TaskStatus.OPEN, TaskStatus.SCHEDULED) and task.task_id != done_id
    ]
    head: list[DomainEvent] = [completed] if completed else []
    closed = CaseClosed(reason=outcome.reason, justice_outcome=outcome.justice_outcome, note=outcome.note)
    return [*head, *cancelled, closed]


def _check_disclosure(state: CaseState, disclosure: Disclosure, ctx: DecisionContext) -> None:
    if disclosure.lawful_basis is not LawfulBasis.CONSENT:
        return
    needed = consent_scope_needed(disclosure.recipient, ctx)
    require(
        state.consent == "given" and needed in state.consent_scope,
        Rule.DISCLOSURE_NEEDS_CONSENT,
        f"sharing with {disclosure.recipient} on the basis of consent needs consent scope {needed}",
    )


def _require_consent_for_assessment(state: CaseState) -> None:
    require(
        state.safeguarding_override or (state.consent == "given" and ConsentScope.ASSESSMENT in state.consent_scope),
        Rule.ASSESSMENT_REQUIRES_CONSENT,
        "an assessment needs consent that covers assessment, or a safeguarding override",
    )


def _require_instrument(state: CaseState, site: SiteConfig, instrument: str, version: str, what: str) -> None:
    configured = site.assessment_instruments if what == "assessment" else site.screening_instruments
    if not configured:
        return
    allowed = [i for i in configured if state.age_band in i.age_bands]
    require(
        any(i.id == instrument and i.version == version for i in allowed),
        Rule.INSTRUMENT_NOT_CONFIGURED,
        f"{instrument} {version} is not a {what} instrument of site {site.site_id} for "
        f"{state.age_band}s (configured: {', '.join(f'{i.id} {i.version}' for i in allowed) or 'none'})",
    )


def _timer_task(
    state: CaseState,
    command: MarkOverdue | SendReminder | EscalateTask,
    now: datetime,
    task_due: bool,
    at: Callable[[Task], datetime | None] = lambda task: task.due_at,
) -> Task:
    """The open task a timer command is about, checked to be the workflow's and to be time."""
    require_role(command.actor, (Role.SYSTEM,), f"send {type(command).__name__}")
    task = open_task(state, command.task_id)
    when = at(task)
    require(when is not None, Rule.NO_SUCH_DEADLINE, f"task {task.task_id} has no such deadline")
    assert when is not None
    rule = Rule.NOT_YET_DUE if task_due else Rule.NOT_YET_TIME
    require(now >= when, rule, f"task {task.task_id}: not until {when}")
    return task


def _remind_at(task: Task) -> datetime | None:
    return task.remind_at


def _escalate_at(task: Task) -> datetime | None:
    return task.escalate_at


def _priority(state: CaseState) -> Urgency:
    return state.screening.urgency if state.screening else Urgency.ROUTINE


def _stage_words(state: CaseState) -> str:
    return "closed" if state.stage is Stage.CLOSED else "not open yet"
