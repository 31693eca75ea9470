"""Domain events: the facts of a case, in the past tense, each with a schema version.

`Event` is a discriminated union on `type`; `EventEnvelope` adds identity, order, time and actor.
The store adds recorded_at and the hash chain (see store/).
"""

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field

from domain.model import Actor, AgeBand, Cohort, Person, ReferralSource, Role, Setting, Sex, Stage, Strict
from domain.outcomes import (
    AssessmentOutcome,
    ClosureReason,
    ConsentScope,
    CourtReportPurpose,
    Disclosure,
    GoalArea,
    HearingResult,
    JusticeOutcome,
    LawfulBasis,
    Recipient,
    ReferralRequest,
    ReferralStatus,
    RiskLevel,
    ScreeningOutcome,
)
from domain.personal import PersonalStr
from domain.tasks import Task


class DomainEvent(Strict):
    schema_version: int = 1


class CaseOpened(DomainEvent):
    type: Literal["CaseOpened"] = "CaseOpened"
    site: str
    setting: Setting
    source: ReferralSource
    external_ref: PersonalStr
    age_band: AgeBand
    cohorts: tuple[Cohort, ...] = ()
    person: Person = Person()
    sex: Sex | None = None
    # When the person was identified, if not when it was recorded (the envelope's occurred_at).
    identified_at: datetime | None = None
    # Whether the band was worked out from a date of birth; None in events recorded before this was kept.
    age_verified: bool | None = None
    # The episode's own person (whose data key seals it); None in events recorded before people were kept.
    person_id: str | None = None


class DateOfBirthRecorded(DomainEvent):
    """The person's date of birth, learnt after the case opened: their age is verified."""

    type: Literal["DateOfBirthRecorded"] = "DateOfBirthRecorded"
    date_of_birth: PersonalStr
    age_band: AgeBand  # as the date of birth gives it on the day of identification


class AgeBandChanged(DomainEvent):
    """The case moved to the other pathway (youth or adult) because the person's age turned out otherwise."""

    type: Literal["AgeBandChanged"] = "AgeBandChanged"
    previous: AgeBand
    age_band: AgeBand
    reason: str


class WomensPathwayDecided(DomainEvent):
    """The women's pathway was offered at screening; the envelope's actor recorded her answer."""

    type: Literal["WomensPathwayDecided"] = "WomensPathwayDecided"
    decision: Literal["accepted", "declined"]


class CohortChanged(DomainEvent):
    """A practitioner put the person on a cohort's pathway or took them off it."""

    type: Literal["CohortChanged"] = "CohortChanged"
    cohort: Cohort
    member: bool
    reason: PersonalStr


class StageEntered(DomainEvent):
    type: Literal["StageEntered"] = "StageEntered"
    stage: Stage
    previous: Stage | None


class ConsentRecorded(DomainEvent):
    type: Literal["ConsentRecorded"] = "ConsentRecorded"
    decision: Literal["given", "declined"]
    scope: tuple[ConsentScope, ...] = ()
    parent_or_guardian_involved: bool | None = None


class ConsentWithdrawn(DomainEvent):
    type: Literal["ConsentWithdrawn"] = "ConsentWithdrawn"
    reason: PersonalStr


class SafeguardingOverrideRecorded(DomainEvent):
    type: Literal["SafeguardingOverrideRecorded"] = "SafeguardingOverrideRecorded"
    lawful_basis: LawfulBasis
    justification: PersonalStr


class ScreeningRecorded(DomainEvent):
    type: Literal["ScreeningRecorded"] = "ScreeningRecorded"
    outcome: ScreeningOutcome


class AssessmentRecorded(DomainEvent):
    type: Literal["AssessmentRecorded"] = "AssessmentRecorded"
    outcome: AssessmentOutcome


class InformationShared(DomainEvent):
    type: Literal["InformationShared"] = "InformationShared"
    disclosure: Disclosure


class TaskOpened(DomainEvent):
    type: Literal["TaskOpened"] = "TaskOpened"
    task: Task


class TaskClaimed(DomainEvent):
    type: Literal["TaskClaimed"] = "TaskClaimed"
    task_id: str
    assignee: str


class TaskReassigned(DomainEvent):
    type: Literal["TaskReassigned"] = "TaskReassigned"
    task_id: str
    assignee: str
    previous: str | None


class TaskCompleted(DomainEvent):
    type: Literal["TaskCompleted"] = "TaskCompleted"
    task_id: str


class TaskCancelled(DomainEvent):
    type: Literal["TaskCancelled"] = "TaskCancelled"
    task_id: str
    reason: str


class TaskBecameOverdue(DomainEvent):
    type: Literal["TaskBecameOverdue"] = "TaskBecameOverdue"
    task_id: str


class ReminderSent(DomainEvent):
    type: Literal["ReminderSent"] = "ReminderSent"
    task_id: str


class TaskEscalated(DomainEvent):
    type: Literal["TaskEscalated"] = "TaskEscalated"
    task_id: str
    to_role: Role = Role.TEAM_LEAD


class ReferralMade(DomainEvent):
    type: Literal["ReferralMade"] = "ReferralMade"
    referral_id: str
    request: ReferralRequest


class ReferralSent(DomainEvent):
    type: Literal["ReferralSent"] = "ReferralSent"
    referral_id: str
    channel: Literal["email", "http"]


class ReferralSendFailed(DomainEvent):
    """The service could not be reached and will not be by retrying (e.g. it refused the request)."""

    type: Literal["ReferralSendFailed"] = "ReferralSendFailed"
    referral_id: str
    reason: str


class ReferralOutcomeRecorded(DomainEvent):
    type: Literal["ReferralOutcomeRecorded"] = "ReferralOutcomeRecorded"
    referral_id: str
    status: ReferralStatus
    reason: PersonalStr = ""


class ReferralChased(DomainEvent):
    type: Literal["ReferralChased"] = "ReferralChased"
    referral_id: str


class ReferralEscalated(DomainEvent):
    type: Literal["ReferralEscalated"] = "ReferralEscalated"
    referral_id: str


class TaskScheduled(DomainEvent):
    """A task that opens by itself later (a follow-up call in two weeks, say)."""

    type: Literal["TaskScheduled"] = "TaskScheduled"
    task: Task


class SupportStarted(DomainEvent):
    type: Literal["SupportStarted"] = "SupportStarted"
    goals: tuple[GoalArea, ...]
    ends_at: datetime


class ContactRecorded(DomainEvent):
    type: Literal["ContactRecorded"] = "ContactRecorded"
    attendance: Literal["attended", "late", "did_not_attend"]
    goals_progressed: tuple[GoalArea, ...] = ()
    note: PersonalStr = ""


class DisengagementReviewed(DomainEvent):
    type: Literal["DisengagementReviewed"] = "DisengagementReviewed"
    decision: Literal["continue", "pause", "end"]
    reason: PersonalStr


class SupportEnded(DomainEvent):
    type: Literal["SupportEnded"] = "SupportEnded"
    reason: Literal["time_limit_reached", "ended_after_review", "handed_off"]


class FollowUpRecorded(DomainEvent):
    type: Literal["FollowUpRecorded"] = "FollowUpRecorded"
    engaged_with_services: bool
    concerns: PersonalStr = ""


class CourtReportRequested(DomainEvent):
    type: Literal["CourtReportRequested"] = "CourtReportRequested"
    report_id: str
    purpose: CourtReportPurpose
    hearing_at: datetime
    due_at: datetime
    recipients: tuple[Recipient, ...]


class CourtReportSubmitted(DomainEvent):
    type: Literal["CourtReportSubmitted"] = "CourtReportSubmitted"
    report_id: str
    on_time: bool
    risk: RiskLevel
    presenting_needs: PersonalStr
    recommendations: PersonalStr


class CourtReportDelivered(DomainEvent):
    type: Literal["CourtReportDelivered"] = "CourtReportDelivered"
    report_id: str
    recipients: tuple[Recipient, ...]


class HearingOutcomeRecorded(DomainEvent):
    type: Literal["HearingOutcomeRecorded"] = "HearingOutcomeRecorded"
    report_id: str
    result: HearingResult
    next_hearing_at: datetime | None = None


class CaseHandedOff(DomainEvent):
    type: Literal["CaseHandedOff"] = "CaseHandedOff"
    to: Literal["reconnect", "youth_justice"]
    reason: str


class JusticeOutcomeRecorded(DomainEvent):
    """What the justice system decided, as the case learned it (e.g. from a hearing's outcome)."""

    type: Literal["JusticeOutcomeRecorded"] = "JusticeOutcomeRecorded"
    outcome: JusticeOutcome
    source: Literal["hearing", "practitioner"] = "hearing"


class LinkedEpisodeOpened(DomainEvent):
    """On the L&D episode: the linked episode (RECONNECT, care after custody) it handed the person to."""

    type: Literal["LinkedEpisodeOpened"] = "LinkedEpisodeOpened"
    linked_case_id: str
    programme: Literal["reconnect"] = "reconnect"


class EpisodeOpenedFromHandOff(DomainEvent):
    """The first event of a linked episode (RECONNECT) opened by another episode's hand-off. It carries
    no personal data: the person's details stay with the episode that handed them on."""

    type: Literal["EpisodeOpenedFromHandOff"] = "EpisodeOpenedFromHandOff"
    programme: Literal["reconnect"] = "reconnect"
    linked_case_id: str
    site: str
    setting: Setting
    age_band: AgeBand
    service_id: str
    hearing_result: HearingResult
    engage_before_release_weeks: int
    support_after_release_months: int
    person_id: str | None = None  # the person of the episode that handed them on


class ReleaseDateRecorded(DomainEvent):
    """On a RECONNECT episode: when the person leaves custody, and the timings it sets."""

    type: Literal["ReleaseDateRecorded"] = "ReleaseDateRecorded"
    release_on: date
    engage_from: datetime  # engagement opens this long before release (or now, if that has passed)
    support_until: datetime  # support after release ends, and the episode's closure opens


class ReconnectEngagementRecorded(DomainEvent):
    type: Literal["ReconnectEngagementRecorded"] = "ReconnectEngagementRecorded"
    engaged: bool


class CaseClosed(DomainEvent):
    type: Literal["CaseClosed"] = "CaseClosed"
    reason: ClosureReason
    justice_outcome: JusticeOutcome | None = None
    note: PersonalStr = ""


class PersonLinked(DomainEvent):
    """The episode is of a person seen before: by an NHS number match, a practitioner's confirmation of
    a possible match, or a practitioner's own knowledge (their words in `note`)."""

    type: Literal["PersonLinked"] = "PersonLinked"
    person_id: str
    basis: Literal["nhs_number", "confirmed_match", "practitioner"]
    previous: str | None = None  # the person it belonged to before
    note: PersonalStr = ""


class PersonUnlinked(DomainEvent):
    """A link was wrong: the episode is its own person again."""

    type: Literal["PersonUnlinked"] = "PersonUnlinked"
    person_id: str  # the person it no longer belongs to
    reason: PersonalStr


class PossibleMatchRejected(DomainEvent):
    """A practitioner found that none of the people a name and date of birth suggested is this person."""

    type: Literal["PossibleMatchRejected"] = "PossibleMatchRejected"
    candidates: tuple[str, ...]


class PersonalDataShredded(DomainEvent):
    """The person's data key was destroyed: every personal field of the case is unreadable for good,
    while the record of what happened (and its hash chain) stays."""

    type: Literal["PersonalDataShredded"] = "PersonalDataShredded"
    person_id: str
    reason: PersonalStr  # sealed with the person's key when staff wrote it: it may name them


Event = Annotated[
    CaseOpened
    | DateOfBirthRecorded
    | AgeBandChanged
    | WomensPathwayDecided
    | CohortChanged
    | StageEntered
    | ConsentRecorded
    | ConsentWithdrawn
    | SafeguardingOverrideRecorded
    | ScreeningRecorded
    | AssessmentRecorded
    | InformationShared
    | TaskOpened
    | TaskClaimed
    | TaskReassigned
    | TaskCompleted
    | TaskCancelled
    | TaskBecameOverdue
    | ReminderSent
    | TaskEscalated
    | ReferralMade
    | ReferralSent
    | ReferralSendFailed
    | ReferralOutcomeRecorded
    | ReferralChased
    | ReferralEscalated
    | TaskScheduled
    | SupportStarted
    | ContactRecorded
    | DisengagementReviewed
    | SupportEnded
    | FollowUpRecorded
    | CourtReportRequested
    | CourtReportSubmitted
    | CourtReportDelivered
    | HearingOutcomeRecorded
    | CaseHandedOff
    | JusticeOutcomeRecorded
    | LinkedEpisodeOpened
    | EpisodeOpenedFromHandOff
    | ReleaseDateRecorded
    | ReconnectEngagementRecorded
    | CaseClosed
    | PersonLinked
    | PersonUnlinked
    | PossibleMatchRejected
    | PersonalDataShredded,
    Field(discriminator="type"),
]


class EventEnvelope(Strict):
    """One event of a case stream, as the workflow decided it."""

    event_id: str
    case_id: str
    seq: int = Field(ge=1)
    occurred_at: datetime
    actor: Actor
    event: Event


class StoredEvent(EventEnvelope):
    """An envelope as the store holds it: when it was written and its place in the hash chain."""

    recorded_at: datetime
    prev_hash: str
    hash: str
