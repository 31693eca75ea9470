"""What a completed task records: one pydantic model per task kind.

Their JSON schemas are what forms and `pathway task schema KIND` show, so every field carries a
description a practitioner understands.
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, JsonValue, model_validator

from domain.model import Strict
from domain.personal import Personal


class Urgency(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"
    EMERGENCY = "emergency"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class VulnerabilityDomain(StrEnum):
    MENTAL_HEALTH = "mental_health"
    LEARNING_DISABILITY = "learning_disability"
    AUTISM = "autism"
    ADHD = "adhd"
    SUBSTANCE_MISUSE = "substance_misuse"
    ALCOHOL = "alcohol"
    SELF_HARM_OR_SUICIDE = "self_harm_or_suicide"
    SPEECH_LANGUAGE_COMMUNICATION = "speech_language_communication"
    TRAUMA = "trauma"
    BRAIN_INJURY = "brain_injury"
    PHYSICAL_HEALTH = "physical_health"
    HOUSING = "housing"
    DEBT = "debt"
    DOMESTIC_ABUSE = "domestic_abuse"


class ServiceType(StrEnum):
    MENTAL_HEALTH = "mental_health"
    SUBSTANCE_MISUSE = "substance_misuse"
    HOUSING = "housing"
    DEBT_ADVICE = "debt_advice"
    LEARNING_DISABILITY = "learning_disability"
    WOMENS_CENTRE = "womens_centre"
    DOMESTIC_ABUSE_SUPPORT = "domestic_abuse_support"
    VETERANS_SUPPORT = "veterans_support"
    GP_REGISTRATION = "gp_registration"
    WELLBEING = "wellbeing"
    # Child and adolescent mental health services: a child's (10-17) mental health service.
    CAMHS = "camhs"
    # The youth justice service (YJS; in statute the youth offending team, YOT) for children 10-17.
    YOUTH_JUSTICE = "youth_justice"
    # Care after custody for adults remanded or sentenced to custody; reached through the hearing
    # outcome's hand-off, not chosen in a referral decision (domain/services.py).
    RECONNECT = "reconnect"


class ConsentScope(StrEnum):
    ASSESSMENT = "assessment"
    SHARE_POLICE = "share_police"
    SHARE_COURT = "share_court"
    SHARE_PROBATION = "share_probation"
    SHARE_CPS = "share_cps"
    SHARE_DEFENCE = "share_defence"
    RESEARCH = "research"
    SHARE_YOUTH_JUSTICE = "share_youth_justice"
    # The services the person is referred to may be told who they are (name, date of birth, NHS
    # number) with the referral; without it a referral names only its reason (docs/fhir.md).
    SHARE_SERVICES = "share_services"


class LawfulBasis(StrEnum):
    """UK GDPR grounds for processing or sharing without (or beyond) consent."""

    CONSENT = "consent"
    VITAL_INTERESTS = "vital_interests"
    SAFEGUARDING = "safeguarding"
    PUBLIC_TASK = "public_task"
    LEGAL_OBLIGATION = "legal_obligation"


class Recipient(StrEnum):
    CUSTODY_SERGEANT = "custody_sergeant"
    CPS = "cps"
    COURT = "court"
    PROBATION = "probation"
    DEFENCE = "defence"
    # The youth justice service (YJS). Its value keeps the statutory name (Crime and Disorder Act 1998
    # s.39 "youth offending team"), which stored disclosures and the data return already carry.
    YOUTH_JUSTICE_SERVICE = "youth_offending_team"


# Which consent scope a disclosure to each recipient needs when its lawful basis is consent.
CONSENT_SCOPE_FOR_RECIPIENT: dict[Recipient, ConsentScope] = {
    Recipient.CUSTODY_SERGEANT: ConsentScope.SHARE_POLICE,
    Recipient.CPS: ConsentScope.SHARE_CPS,
    Recipient.COURT: ConsentScope.SHARE_COURT,
    Recipient.PROBATION: ConsentScope.SHARE_PROBATION,
    Recipient.DEFENCE: ConsentScope.SHARE_DEFENCE,
    # Its own consent: a child agreeing to probation sharing has not agreed to the youth justice service.
    Recipient.YOUTH_JUSTICE_SERVICE: ConsentScope.SHARE_YOUTH_JUSTICE,
}


class ClosureReason(StrEnum):
    PATHWAY_COMPLETE = "pathway_complete"
    CONSENT_DECLINED = "consent_declined"
    NO_NEEDS_IDENTIFIED = "no_needs_identified"
    RELEASED_BEFORE_CONTACT = "released_before_contact"
    TRANSFERRED = "transferred"
    DECLINED_SUPPORT = "declined_support"
    RECORD_MADE_IN_ERROR = "record_made_in_error"
    OTHER = "other"


class JusticeOutcome(StrEnum):
    NO_FURTHER_ACTION = "no_further_action"
    COMMUNITY_RESOLUTION = "community_resolution"
    CAUTION = "caution"
    CONDITIONAL_CAUTION = "conditional_caution"
    CHARGED_BAILED = "charged_bailed"
    CHARGED_REMANDED = "charged_remanded"
    ADJOURNED = "adjourned"
    COMMUNITY_ORDER = "community_order"
    COMMUNITY_ORDER_WITH_TREATMENT_REQUIREMENT = "community_order_with_treatment_requirement"
    CUSTODIAL_SENTENCE = "custodial_sentence"
    HOSPITAL_ORDER = "hospital_order"
    NOT_KNOWN = "not_known"


class SafeguardingOverride(Strict):
    lawful_basis: LawfulBasis = Field(description="The lawful basis for going ahead without consent")
    justification: Annotated[str, Personal(min_length=10, max_length=2000)] = Field(
        description="Why the risk justifies it"
    )

    @model_validator(mode="after")
    def _not_consent(self) -> Self:
        if self.lawful_basis is LawfulBasis.CONSENT:
            raise ValueError("a safeguarding override cannot rest on consent")
        return self


class ConsentOutcome(Strict):
    decision: Literal["given", "declined"] = Field(description="What the person decided")
    scope: list[ConsentScope] = Field(default_factory=list, description="What the consent covers")
    safeguarding_override: SafeguardingOverride | None = Field(
        default=None, description="Only when consent is declined: carry on because of a safeguarding risk"
    )
    parent_or_guardian_involved: bool | None = Field(
        default=None, description="For a child (10-17): whether a parent or guardian was involved"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.decision == "given" and not self.scope:
            raise ValueError("consent given must name at least one scope")
        if self.decision == "declined" and self.scope:
            raise ValueError("declined consent has no scope")
        if self.decision == "given" and self.safeguarding_override is not None:
            raise ValueError("a safeguarding override is only recorded when consent is declined")
        return self


class ScreeningOutcome(Strict):
    instrument: str = Field(min_length=1, max_length=64, description="Screening instrument id")
    instrument_version: str = Field(min_length=1, max_length=32, description="Version of the instrument used")
    urgency: Urgency = Field(description="How soon the person needs help")
    domains: list[VulnerabilityDomain] = Field(default_factory=list, description="Vulnerabilities flagged")
    risk_level: RiskLevel = Field(description="Risk to self or others found at screening")
    assessment_needed: bool = Field(description="Whether a full assessment should follow")
    note: Annotated[str, Personal(max_length=4000)] = Field(
        default="", description="Anything the next practitioner should know"
    )
    womens_pathway: Literal["accepted", "declined"] | None = Field(
        default=None,
        description="The women's pathway, offered: whether she accepted it (needed when she stated her sex as female)",
    )


class Vulnerability(Strict):
    domain: VulnerabilityDomain = Field(description="Area of need")
    severity: Literal["mild", "moderate", "severe"] = Field(description="How severe the need is")


class AssessmentOutcome(Strict):
    instrument: str = Field(min_length=1, max_length=64, description="Assessment instrument id")
    instrument_version: str = Field(min_length=1, max_length=32, description="Version of the instrument used")
    answers: Annotated[dict[str, JsonValue], Personal()] = Field(
        default_factory=dict, description="Item responses by item id"
    )
    score: int | None = Field(default=None, description="The instrument's total score, if it has one")
    vulnerabilities: list[Vulnerability] = Field(default_factory=list, description="Needs found, with severity")
    # One action a line (the web form takes them a line each), so no line breaks within one.
    safeguarding_actions: Annotated[list[str], Personal(single_line=True)] = Field(
        default_factory=list, description="Actions taken to keep people safe"
    )
    recommended_services: list[ServiceType] = Field(
        default_factory=list, description="Services the person should be referred to"
    )


class Disclosure(Strict):
    recipient: Recipient = Field(description="Who receives the information")
    # A short phrase on one line (the web form's text input), unlike the summary below.
    purpose: Annotated[str, Personal(min_length=3, max_length=500, single_line=True)] = Field(
        description="What the recipient needs it for"
    )
    lawful_basis: LawfulBasis = Field(description="Consent, or the lawful basis for sharing without it")
    summary: Annotated[str, Personal(min_length=1, max_length=4000)] = Field(description="What was shared")


class ShareInformationOutcome(Strict):
    disclosures: list[Disclosure] = Field(default_factory=list, description="Each disclosure made")
    reason_if_none: Annotated[str | None, Personal(max_length=1000)] = Field(
        default=None, description="Why nothing was shared"
    )

    @model_validator(mode="after")
    def _something_or_why(self) -> Self:
        if not self.disclosures and not self.reason_if_none:
            raise ValueError("give a reason when nothing is shared")
        return self


class ReferralStatus(StrEnum):
    """drafted -> sent -> accepted | rejected | declined_by_person; accepted -> attended | did_not_attend;
    did_not_attend -> attended | disengaged; attended -> engaged | disengaged; engaged, disengaged,
    rejected and declined_by_person -> closed (domain/rules.py REFERRAL_TRANSITIONS)."""

    DRAFTED = "drafted"
    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DECLINED_BY_PERSON = "declined_by_person"
    ATTENDED = "attended"
    DID_NOT_ATTEND = "did_not_attend"
    ENGAGED = "engaged"
    DISENGAGED = "disengaged"
    CLOSED = "closed"


class ReferralRequest(Strict):
    service: ServiceType = Field(description="The kind of service to refer to")
    service_id: str | None = Field(
        default=None, max_length=64, description="A particular service from the directory; default: the site's one"
    )
    reason: Annotated[str, Personal(min_length=3, max_length=1000)] = Field(description="Why this referral is needed")
    urgency: Urgency = Field(default=Urgency.ROUTINE, description="How soon the service should respond")


class GoalArea(StrEnum):
    HOUSING = "housing"
    ADDICTIONS = "addictions"
    DEBT = "debt"
    WELLBEING = "wellbeing"
    MENTAL_HEALTH = "mental_health"
    PHYSICAL_HEALTH = "physical_health"
    EMPLOYMENT = "employment"
    RELATIONSHIPS = "relationships"


class ReferralDecisionOutcome(Strict):
    referrals: list[ReferralRequest] = Field(default_factory=list, description="Referrals to make")
    reason_if_none: Annotated[str | None, Personal(max_length=1000)] = Field(
        default=None, description="Why no referral is made"
    )
    link_work_goals: list[GoalArea] = Field(
        default_factory=list, description="Goals for community link work; none means no link work"
    )

    @model_validator(mode="after")
    def _something_or_why(self) -> Self:
        if not self.referrals and not self.reason_if_none:
            raise ValueError("give a reason when no referral is made")
        return self


class ChaseReferralOutcome(Strict):
    answer: Literal["accepted", "rejected", "no_answer_yet"] = Field(description="What the service said")
    reason: Annotated[str, Personal(max_length=1000)] = Field(
        default="", description="The service's reason, if it rejected"
    )
    note: Annotated[str, Personal(max_length=4000)] = ""

    @model_validator(mode="after")
    def _reason_for_rejection(self) -> Self:
        if self.answer == "rejected" and not self.reason:
            raise ValueError("give the service's reason for rejecting the referral")
        return self


class ContactOutcome(Strict):
    attendance: Literal["attended", "late", "did_not_attend"] = Field(description="Whether the person came")
    goals_progressed: list[GoalArea] = Field(default_factory=list, description="Goals moved forward")
    note: Annotated[str, Personal(max_length=4000)] = ""
    next_contact_in_days: int | None = Field(
        default=None, ge=1, le=28, description="When to meet next (default: the site's contact interval)"
    )


class DisengagementReviewOutcome(Strict):
    decision: Literal["continue", "pause", "end"] = Field(description="What happens to the support now")
    reason: Annotated[str, Personal(min_length=3, max_length=1000)] = Field(description="Why")


class FollowUpOutcome(Strict):
    engaged_with_services: bool = Field(description="Whether the person is engaged with the services referred to")
    concerns: Annotated[str, Personal(max_length=4000)] = Field(default="", description="Anything worrying")


class CourtReportPurpose(StrEnum):
    BAIL_OR_REMAND = "bail_or_remand"
    FITNESS_TO_PLEAD_ADVICE = "fitness_to_plead_advice"
    PRE_SENTENCE_REPORT_INPUT = "pre_sentence_report_input"


class HearingResult(StrEnum):
    BAIL = "bail"
    REMAND_IN_CUSTODY = "remand_in_custody"
    ADJOURNED = "adjourned"
    COMMUNITY_ORDER = "community_order"
    COMMUNITY_ORDER_WITH_TREATMENT_REQUIREMENT = "community_order_with_treatment_requirement"
    CUSTODIAL_SENTENCE = "custodial_sentence"
    HOSPITAL_ORDER = "hospital_order"
    CONDITIONAL_DISCHARGE = "conditional_discharge"
    NO_FURTHER_ACTION = "no_further_action"


# Outcomes after which the person is in custody, so care after custody (RECONNECT) can take over.
CUSTODIAL_RESULTS = (HearingResult.REMAND_IN_CUSTODY, HearingResult.CUSTODIAL_SENTENCE)


class CourtReportOutcome(Strict):
    presenting_needs: Annotated[str, Personal(min_length=3, max_length=8000)] = Field(
        description="The needs the court should know"
    )
    risk: RiskLevel = Field(description="Risk to self or others")
    recommendations: Annotated[str, Personal(min_length=3, max_length=8000)] = Field(
        description="What the service recommends"
    )


class PersonMatchOutcome(Strict):
    """A possible previous contact: which of the people suggested this person is, or none of them."""

    same_person_as: str | None = Field(
        default=None, description="The person this one is (one of the task's candidates); empty: none of them"
    )
    note: Annotated[str, Personal(max_length=1000)] = Field(default="", description="How you know")


class ReconnectEngagementOutcome(Strict):
    """A RECONNECT episode's engagement: met in custody before release and linked with care after it."""

    engaged: bool = Field(description="Whether the person agreed to RECONNECT's support after release")
    note: Annotated[str, Personal(max_length=4000)] = Field(default="", description="What was agreed, or why not")


class HearingOutcome(Strict):
    result: HearingResult = Field(description="What the court decided")
    next_hearing_at: datetime | None = Field(default=None, description="When adjourned: the next hearing")
    hand_off_to_reconnect: bool = Field(
        default=False, description="Refer to RECONNECT (care after custody); only after remand or a custodial sentence"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.result is HearingResult.ADJOURNED and self.next_hearing_at is None:
            raise ValueError("an adjourned hearing needs the time of the next hearing")
        if self.hand_off_to_reconnect and self.result not in CUSTODIAL_RESULTS:
            raise ValueError("RECONNECT is for people remanded or sentenced to custody")
        return self


class ClosureOutcome(Strict):
    reason: ClosureReason = Field(description="Why the case closes")
    justice_outcome: JusticeOutcome | None = Field(default=None, description="The justice outcome, if known")
    note: Annotated[str, Personal(max_length=4000)] = Field(
        default="", description="Anything else the record should say"
    )
