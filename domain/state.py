"""A case's state: a pure fold over its events. Total: it never refuses a stored event."""

from collections.abc import Sequence
from datetime import date, datetime
from functools import reduce
from typing import Literal

from pydantic import Field

from domain.events import (
    AgeBandChanged,
    AssessmentRecorded,
    CaseClosed,
    CaseHandedOff,
    CaseOpened,
    CohortChanged,
    ConsentRecorded,
    ConsentWithdrawn,
    ContactRecorded,
    CourtReportDelivered,
    CourtReportRequested,
    CourtReportSubmitted,
    DateOfBirthRecorded,
    DisengagementReviewed,
    EpisodeOpenedFromHandOff,
    EventEnvelope,
    FollowUpRecorded,
    HearingOutcomeRecorded,
    InformationShared,
    JusticeOutcomeRecorded,
    LinkedEpisodeOpened,
    PersonalDataShredded,
    PersonLinked,
    PersonUnlinked,
    ReconnectEngagementRecorded,
    ReferralChased,
    ReferralEscalated,
    ReferralMade,
    ReferralOutcomeRecorded,
    ReferralSendFailed,
    ReferralSent,
    ReleaseDateRecorded,
    ReminderSent,
    SafeguardingOverrideRecorded,
    ScreeningRecorded,
    StageEntered,
    SupportEnded,
    SupportStarted,
    TaskBecameOverdue,
    TaskCancelled,
    TaskClaimed,
    TaskCompleted,
    TaskEscalated,
    TaskOpened,
    TaskReassigned,
    TaskScheduled,
    WomensPathwayDecided,
)
from domain.model import AgeBand, Cohort, Person, ReferralSource, Setting, Sex, Stage, Strict
from domain.outcomes import (
    AssessmentOutcome,
    ClosureReason,
    ConsentScope,
    CourtReportPurpose,
    Disclosure,
    GoalArea,
    HearingResult,
    JusticeOutcome,
    Recipient,
    ReferralRequest,
    ReferralStatus,
    ScreeningOutcome,
)
from domain.personal import PersonalStr
from domain.tasks import Task, TaskStatus

ConsentStatus = Literal["not_asked", "given", "declined", "withdrawn"]


class Referral(Strict):
    referral_id: str
    request: ReferralRequest
    made_at: datetime
    status: ReferralStatus = ReferralStatus.DRAFTED
    sent_at: datetime | None = None
    send_failed: str | None = None
    reason: PersonalStr = ""
    chased: bool = False
    escalated: bool = False

    @property
    def awaiting_answer(self) -> bool:
        return self.status in (ReferralStatus.DRAFTED, ReferralStatus.SENT)


class Support(Strict):
    """Time-boxed community link work."""

    goals: tuple[GoalArea, ...]
    started_at: datetime
    ends_at: datetime
    contacts: int = 0
    missed_in_a_row: int = 0
    goals_progressed: tuple[GoalArea, ...] = ()
    ended_at: datetime | None = None
    end_reason: str | None = None


class CourtReport(Strict):
    report_id: str
    purpose: CourtReportPurpose
    hearing_at: datetime
    due_at: datetime
    recipients: tuple[Recipient, ...]
    submitted_at: datetime | None = None
    on_time: bool | None = None
    delivered_to: tuple[Recipient, ...] = ()
    hearing_result: HearingResult | None = None


class FollowUp(Strict):
    engaged_with_services: bool
    concerns: PersonalStr
    recorded_at: datetime


class CareAfterCustody(Strict):
    """A RECONNECT episode's own timings, as its site set them when it opened."""

    service_id: str
    hearing_result: HearingResult
    engage_before_release_weeks: int
    support_after_release_months: int
    release_on: date | None = None  # once recorded: engagement opens before it, support ends after it
    support_until: datetime | None = None
    engaged: bool | None = None


class CaseState(Strict):
    case_id: str
    version: int = 0  # seq of the last event folded in
    stage: Stage | None = None
    site: str = ""
    setting: Setting | None = None
    source: ReferralSource | None = None
    external_ref: PersonalStr = ""
    age_band: AgeBand | None = None
    # None: opened before ages were verified (no flag was kept); False: "age not verified" until a
    # date of birth is recorded.
    age_verified: bool | None = None
    cohorts: tuple[Cohort, ...] = ()
    person: Person = Person()
    sex: Sex | None = None
    opened_at: datetime | None = None  # when the case was recorded
    identified_at: datetime | None = None  # when the person was identified; the SLAs count from it
    consent: ConsentStatus = "not_asked"
    consent_scope: tuple[ConsentScope, ...] = ()
    safeguarding_override: bool = False
    screening: ScreeningOutcome | None = None
    assessment: AssessmentOutcome | None = None
    disclosures: tuple[Disclosure, ...] = ()
    referrals: tuple[Referral, ...] = ()
    tasks: dict[str, Task] = Field(default_factory=dict)
    support: Support | None = None
    follow_ups: tuple[FollowUp, ...] = ()
    court_reports: tuple[CourtReport, ...] = ()
    handed_off_to: str | None = None
    # "liaison_and_diversion", or "reconnect" for a care-after-custody episode opened by a hand-off.
    programme: str = "liaison_and_diversion"
    # The other episode of a hand-off: the RECONNECT episode of an L&D case, or the L&D case of one.
    linked_case_id: str | None = None
    care_after_custody: CareAfterCustody | None = None
    closed_at: datetime | None = None
    personal_data_shredded_at: datetime | None = None
    # The person the episode is of: its own (whose data key seals it), or a person seen before it was
    # linked to. None for episodes opened before people were kept.
    person_id: str | None = None
    own_person_id: str | None = None
    close_reason: ClosureReason | None = None
    justice_outcome: JusticeOutcome | None = None

    @property
    def is_open(self) -> bool:
        return self.stage is not None and self.stage is not Stage.CLOSED

    @property
    def open_tasks(self) -> list[Task]:
        return [task for task in self.tasks.values() if task.status is TaskStatus.OPEN]

    @property
    def overdue(self) -> bool:
        return any(task.overdue for task in self.open_tasks)

    @property
    def next_due(self) -> datetime | None:
        return min((task.due_at for task in self.open_tasks), default=None)

    @property
    def may_proceed_without_consent(self) -> bool:
        return self.consent == "given" or self.safeguarding_override


def empty_state(case_id: str) -> CaseState:
    return CaseState(case_id=case_id)


def fold(case_id: str, envelopes: Sequence[EventEnvelope]) -> CaseState:
    return reduce(apply, envelopes, empty_state(case_id))


def apply(state: CaseState, envelope: EventEnvelope) -> CaseState:
    """The state after one more event."""
    event = envelope.event
    at = envelope.occurred_at
    changes: dict[str, object] = {"version": envelope.seq}
    match event:
        case CaseOpened():
            changes |= {
                "stage": Stage.IDENTIFIED,
                "site": event.site,
                "setting": event.setting,
                "source": event.source,
                "external_ref": event.external_ref,
                "age_band": event.age_band,
                "cohorts": event.cohorts,
                "person": event.person,
                "opened_at": at,
                "identified_at": event.identified_at or at,
                "sex": event.sex,
                "age_verified": event.age_verified,
                "person_id": event.person_id,
                "own_person_id": event.person_id,
            }
        case DateOfBirthRecorded():
            person = state.person.model_copy(update={"date_of_birth": event.date_of_birth})
            changes |= {"person": person, "age_band": event.age_band, "age_verified": True}
        case AgeBandChanged():
            changes["age_band"] = event.age_band
        case WomensPathwayDecided():
            changes["cohorts"] = with_cohort(state.cohorts, Cohort.WOMENS_PATHWAY, event.decision == "accepted")
        case CohortChanged():
            changes["cohorts"] = with_cohort(state.cohorts, event.cohort, event.member)
        case StageEntered():
            changes["stage"] = event.stage
        case ConsentRecorded():
            changes |= {"consent": event.decision, "consent_scope": event.scope}
        case ConsentWithdrawn():
            changes |= {"consent": "withdrawn", "consent_scope": ()}
        case SafeguardingOverrideRecorded():
            changes["safeguarding_override"] = True
        case ScreeningRecorded():
            changes["screening"] = event.outcome
        case AssessmentRecorded():
            changes["assessment"] = event.outcome
        case InformationShared():
            changes["disclosures"] = (*state.disclosures, event.disclosure)
        case ReferralMade():
            referral = Referral(referral_id=event.referral_id, request=event.request, made_at=at)
            changes["referrals"] = (*state.referrals, referral)
        case ReferralSent():
            changes["referrals"] = _with_referral(state, event.referral_id, status=ReferralStatus.SENT, sent_at=at)
        case ReferralSendFailed():
            changes["referrals"] = _with_referral(state, event.referral_id, send_failed=event.reason)
        case ReferralOutcomeRecorded():
            changes["referrals"] = _with_referral(state, event.referral_id, status=event.status, reason=event.reason)
        case ReferralChased():
            changes["referrals"] = _with_referral(state, event.referral_id, chased=True)
        case ReferralEscalated():
            changes["referrals"] = _with_referral(state, event.referral_id, escalated=True)
        case TaskScheduled():
            changes["tasks"] = {**state.tasks, event.task.task_id: event.task}
        case SupportStarted():
            changes["support"] = Support(goals=event.goals, started_at=at, ends_at=event.ends_at)
        case ContactRecorded() if state.support:
            missed = state.support.missed_in_a_row + 1 if event.attendance == "did_not_attend" else 0
            progressed = tuple(dict.fromkeys((*state.support.goals_progressed, *event.goals_progressed)))
            changes["support"] = state.support.model_copy(
                update={
                    "contacts": state.support.contacts + 1,
                    "missed_in_a_row": missed,
                    "goals_progressed": progressed,
                }
            )
        case DisengagementReviewed() if state.support:
            changes["support"] = state.support.model_copy(update={"missed_in_a_row": 0})
        case SupportEnded() if state.support:
            changes["support"] = state.support.model_copy(update={"ended_at": at, "end_reason": event.reason})
        case FollowUpRecorded():
            follow_up = FollowUp(
                engaged_with_services=event.engaged_with_services, concerns=event.concerns, recorded_at=at
            )
            changes["follow_ups"] = (*state.follow_ups, follow_up)
        case CourtReportRequested():
            report = CourtReport(
                report_id=event.report_id,
                purpose=event.purpose,
                hearing_at=event.hearing_at,
                due_at=event.due_at,
                recipients=event.recipients,
            )
            changes["court_reports"] = (*state.court_reports, report)
        case CourtReportSubmitted():
            changes["court_reports"] = _with_report(state, event.report_id, submitted_at=at, on_time=event.on_time)
        case CourtReportDelivered():
            changes["court_reports"] = _with_report(state, event.report_id, delivered_to=event.recipients)
        case HearingOutcomeRecorded():
            changes["court_reports"] = _with_report(state, event.report_id, hearing_result=event.result)
        case CaseHandedOff():
            changes["handed_off_to"] = event.to
        case JusticeOutcomeRecorded():
            changes["justice_outcome"] = event.outcome
        case LinkedEpisodeOpened():
            changes["linked_case_id"] = event.linked_case_id
        case EpisodeOpenedFromHandOff():
            changes |= {
                "stage": Stage.IDENTIFIED,
                "programme": event.programme,
                "site": event.site,
                "setting": event.setting,
                "source": ReferralSource.OTHER_AGENCY,
                "age_band": event.age_band,
                "opened_at": at,
                "linked_case_id": event.linked_case_id,
                "person_id": event.person_id,
                "care_after_custody": CareAfterCustody(
                    service_id=event.service_id,
                    hearing_result=event.hearing_result,
                    engage_before_release_weeks=event.engage_before_release_weeks,
                    support_after_release_months=event.support_after_release_months,
                ),
            }
        case ReleaseDateRecorded() if state.care_after_custody:
            timings = {"release_on": event.release_on, "support_until": event.support_until}
            changes["care_after_custody"] = state.care_after_custody.model_copy(update=timings)
        case ReconnectEngagementRecorded() if state.care_after_custody:
            changes["care_after_custody"] = state.care_after_custody.model_copy(update={"engaged": event.engaged})
        case TaskOpened():
            changes["tasks"] = {**state.tasks, event.task.task_id: event.task}
        case TaskClaimed() | TaskReassigned():
            changes["tasks"] = _with_task(state, event.task_id, assignee=event.assignee)
        case TaskCompleted():
            changes["tasks"] = _with_task(
                state, event.task_id, status=TaskStatus.COMPLETED, closed_at=at, closed_by=envelope.actor.staff_id
            )
        case TaskCancelled():
            changes["tasks"] = _with_task(state, event.task_id, status=TaskStatus.CANCELLED, closed_at=at)
        case TaskBecameOverdue():
            changes["tasks"] = _with_task(state, event.task_id, overdue=True)
        case ReminderSent():
            changes["tasks"] = _with_task(state, event.task_id, reminded=True)
        case TaskEscalated():
            changes["tasks"] = _with_task(state, event.task_id, escalated=True)
        case CaseClosed():
            changes |= {
                "stage": Stage.CLOSED,
                "closed_at": at,
                "close_reason": event.reason,
                # A closure that does not say keeps the outcome the case learned before (e.g. at a hearing).
                "justice_outcome": event.justice_outcome or state.justice_outcome,
            }
        case PersonalDataShredded():
            changes["personal_data_shredded_at"] = at
        case PersonLinked():
            changes["person_id"] = event.person_id
        case PersonUnlinked():
            changes["person_id"] = state.own_person_id
    return state.model_copy(update=changes)


def with_cohort(cohorts: tuple[Cohort, ...], cohort: Cohort, member: bool) -> tuple[Cohort, ...]:
    """The cohorts with `cohort` added (in place if already there) or removed."""
    if member:
        return cohorts if cohort in cohorts else (*cohorts, cohort)
    return tuple(c for c in cohorts if c is not cohort)


def _with_report(state: CaseState, report_id: str, **changes: object) -> tuple[CourtReport, ...]:
    return tuple(r.model_copy(update=changes) if r.report_id == report_id else r for r in state.court_reports)


def _with_referral(state: CaseState, referral_id: str, **changes: object) -> tuple[Referral, ...]:
    return tuple(r.model_copy(update=changes) if r.referral_id == referral_id else r for r in state.referrals)


def referral(state: CaseState, referral_id: str) -> Referral | None:
    return next((r for r in state.referrals if r.referral_id == referral_id), None)


def _with_task(state: CaseState, task_id: str, **changes: object) -> dict[str, Task]:
    task = state.tasks.get(task_id)
    if task is None:  # the fold stays total: an event about an unknown task changes nothing
        return state.tasks
    return {**state.tasks, task_id: task.model_copy(update=changes)}
