"""Human tasks: what the workflow asks people to do, and the outcome model of each kind."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from domain.errors import Rule, RuleViolation, described
from domain.model import Role, Strict
from domain.outcomes import (
    AssessmentOutcome,
    ChaseReferralOutcome,
    ClosureOutcome,
    ConsentOutcome,
    ContactOutcome,
    CourtReportOutcome,
    DisengagementReviewOutcome,
    FollowUpOutcome,
    HearingOutcome,
    PersonMatchOutcome,
    ReconnectEngagementOutcome,
    ReferralDecisionOutcome,
    ScreeningOutcome,
    ServiceType,
    ShareInformationOutcome,
    Urgency,
)


class TaskKind(StrEnum):
    CONSENT = "consent"
    SCREENING = "screening"
    ASSESSMENT = "assessment"
    SHARE_INFORMATION = "share_information"
    REFERRAL_DECISION = "referral_decision"
    CHASE_REFERRAL = "chase_referral"
    CONTACT = "contact"
    DISENGAGEMENT_REVIEW = "disengagement_review"
    FOLLOW_UP = "follow_up"
    COURT_REPORT = "court_report"
    HEARING_OUTCOME = "hearing_outcome"
    CLOSURE = "closure"
    # A RECONNECT episode's: meet the person in custody before release and engage them with care after it.
    RECONNECT_ENGAGEMENT = "reconnect_engagement"
    # A name and date of birth suggest this person was seen before: confirm one of the people, or none.
    PERSON_MATCH = "person_match"


class TaskStatus(StrEnum):
    SCHEDULED = "scheduled"  # opens by itself at opens_at
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


OUTCOME_MODELS: dict[TaskKind, type[BaseModel]] = {
    TaskKind.CONSENT: ConsentOutcome,
    TaskKind.SCREENING: ScreeningOutcome,
    TaskKind.ASSESSMENT: AssessmentOutcome,
    TaskKind.SHARE_INFORMATION: ShareInformationOutcome,
    TaskKind.REFERRAL_DECISION: ReferralDecisionOutcome,
    TaskKind.CHASE_REFERRAL: ChaseReferralOutcome,
    TaskKind.CONTACT: ContactOutcome,
    TaskKind.DISENGAGEMENT_REVIEW: DisengagementReviewOutcome,
    TaskKind.FOLLOW_UP: FollowUpOutcome,
    TaskKind.COURT_REPORT: CourtReportOutcome,
    TaskKind.HEARING_OUTCOME: HearingOutcome,
    TaskKind.CLOSURE: ClosureOutcome,
    TaskKind.RECONNECT_ENGAGEMENT: ReconnectEngagementOutcome,
    TaskKind.PERSON_MATCH: PersonMatchOutcome,
}

# Who may complete a task of each kind. A team lead can always step in for their team.
CANDIDATE_ROLES: dict[TaskKind, tuple[Role, ...]] = {
    TaskKind.CONSENT: (Role.PRACTITIONER, Role.TEAM_LEAD),
    TaskKind.SCREENING: (Role.PRACTITIONER, Role.TEAM_LEAD),
    TaskKind.ASSESSMENT: (Role.PRACTITIONER, Role.TEAM_LEAD),
    TaskKind.SHARE_INFORMATION: (Role.PRACTITIONER, Role.TEAM_LEAD),
    TaskKind.REFERRAL_DECISION: (Role.PRACTITIONER, Role.TEAM_LEAD),
    TaskKind.CHASE_REFERRAL: (Role.LINK_WORKER, Role.PRACTITIONER, Role.TEAM_LEAD),
    TaskKind.CONTACT: (Role.LINK_WORKER, Role.TEAM_LEAD),
    TaskKind.DISENGAGEMENT_REVIEW: (Role.LINK_WORKER, Role.TEAM_LEAD),
    TaskKind.FOLLOW_UP: (Role.LINK_WORKER, Role.PRACTITIONER, Role.TEAM_LEAD),
    TaskKind.COURT_REPORT: (Role.PRACTITIONER, Role.TEAM_LEAD),
    TaskKind.HEARING_OUTCOME: (Role.PRACTITIONER, Role.TEAM_LEAD),
    TaskKind.CLOSURE: (Role.PRACTITIONER, Role.TEAM_LEAD),
    TaskKind.RECONNECT_ENGAGEMENT: (Role.LINK_WORKER, Role.PRACTITIONER, Role.TEAM_LEAD),
    TaskKind.PERSON_MATCH: (Role.PRACTITIONER, Role.TEAM_LEAD),
}


class Task(Strict):
    task_id: str
    kind: TaskKind
    site: str
    candidate_roles: tuple[Role, ...]
    priority: Urgency = Urgency.ROUTINE
    due_at: datetime
    opened_at: datetime
    opens_at: datetime | None = Field(default=None, description="For a scheduled task: when it opens")
    assignee: str | None = None
    referral_id: str | None = Field(default=None, description="The referral a chase task is about")
    report_id: str | None = Field(default=None, description="The court report a task is about")
    candidates: tuple[str, ...] = Field(default=(), description="For a person match: the people it may be")
    suggested_services: tuple[ServiceType, ...] = Field(
        default=(), description="For a referral decision: services the needs and cohorts point to"
    )
    status: TaskStatus = TaskStatus.OPEN
    overdue: bool = False
    remind_at: datetime | None = Field(default=None, description="When to remind whoever should do it")
    reminded: bool = False
    escalate_at: datetime | None = Field(default=None, description="When an unfinished task goes to the team lead")
    escalated: bool = False
    closed_at: datetime | None = None
    closed_by: str | None = Field(default=None, description="Staff id of whoever completed it")


def outcome_schema(kind: TaskKind) -> dict[str, Any]:
    return OUTCOME_MODELS[kind].model_json_schema()


def parse_outcome(kind: TaskKind, outcome: dict[str, Any]) -> BaseModel:
    """Validate a raw outcome against its kind's model; the error lists every bad field."""
    try:
        return OUTCOME_MODELS[kind].model_validate(outcome)
    except ValidationError as error:
        problems = described(error.errors())
        raise RuleViolation(Rule.OUTCOME_INVALID, f"the {kind} outcome is not valid: {problems}") from None
