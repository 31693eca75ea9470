"""Commands: what people (or the workflow's own timers) ask a case to do. Each names its actor."""

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, JsonValue

from domain.model import Actor, AgeBand, Cohort, Person, ReferralSource, Role, Setting, Sex, Strict
from domain.outcomes import ClosureOutcome, CourtReportPurpose, Disclosure, JusticeOutcome, Recipient, ReferralStatus
from domain.personal import Personal

# Custody numbers and court case numbers as forces and HMCTS write them.
EXTERNAL_REF = r"^[A-Za-z0-9/._-]+$"


class Command(Strict):
    actor: Actor
    # The case version (CaseState.version) the asker last saw, if they want the command refused once
    # the case has moved past it; checked by `decide`, so by the workflow's validator and again under
    # its lock (no window between the check and the change).
    expected_version: int | None = Field(default=None, ge=0)


class OpenCase(Command):
    site: str = Field(min_length=1, max_length=40)
    setting: Setting
    source: ReferralSource
    external_ref: Annotated[str, Personal(min_length=1, max_length=64, pattern=EXTERNAL_REF)] = Field(
        description="Custody number or court case number"
    )
    age_band: AgeBand | None = Field(
        default=None,
        description="child (10-17) or adult; worked out from the date of birth when it is given, required when not",
    )
    cohorts: tuple[Cohort, ...] = ()
    person: Person = Person()
    sex: Sex | None = Field(default=None, description="As the person states it, if they do")
    identified_at: AwareDatetime | None = Field(
        default=None,
        description="When the person was identified (e.g. arrived in custody); the SLA counts from it. Default: now",
    )
    # Set by the service from the plaintext date of birth (domain/plaintext.py), never taken from a caller.
    age_verified: bool = False
    # Set by the service from the person index (service/person_matching.py), never taken from a caller:
    # the episode's own person id, the person an NHS number match links it to, and the people a name
    # and date of birth suggest, for a practitioner to confirm or reject.
    person_id: str | None = None
    same_person_as: str | None = None
    possible_people: tuple[str, ...] = ()


class RecordDateOfBirth(Command):
    """The person's date of birth, learnt after the case opened: it verifies their age and may move the
    case to the other pathway. The service works out `age_band` from the plaintext date."""

    date_of_birth: Annotated[str, Personal(is_date=True)] = Field(description="YYYY-MM-DD")
    age_band: AgeBand | None = None
    # Set by the service from the person index, never taken from a caller: the people the name and this
    # date of birth now suggest (service/person_matching.py).
    possible_people: tuple[str, ...] = ()


class ChangeCohort(Command):
    """A practitioner puts the person on a cohort's pathway, or takes them off it, saying why."""

    cohort: Cohort
    member: bool = Field(description="True: add the person to the cohort; False: remove them")
    reason: Annotated[str, Personal(min_length=3, max_length=1000)]


class RecordJusticeOutcome(Command):
    """What the justice system decided (a charge, a court's outcome, a sentence), as the case learns it."""

    outcome: JusticeOutcome


class LinkPerson(Command):
    """A practitioner records that this episode is of a person seen before, saying how they know."""

    person_id: str = Field(pattern=r"^person-[0-9a-f-]{36}$")
    basis: Annotated[str, Personal(min_length=3, max_length=500)] = Field(description="How you know")


class UnlinkPerson(Command):
    """A link to a person seen before was wrong: the episode is its own person again."""

    reason: Annotated[str, Personal(min_length=3, max_length=500)]


class RecordReleaseDate(Command):
    """On a RECONNECT episode: when the person leaves (or left) custody. Recorded again if it moves."""

    release_on: date


class CompleteTask(Command):
    task_id: str = Field(min_length=1, max_length=64)
    outcome: dict[str, JsonValue]


class ClaimTask(Command):
    task_id: str = Field(min_length=1, max_length=64)


class ReassignTask(Command):
    """A team lead gives a task to someone else. The assignee's role and sites come from the staff
    directory; the sites are None only in commands recorded before they were carried (the workflow's
    validator refuses a new command without them)."""

    task_id: str = Field(min_length=1, max_length=64)
    assignee: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    assignee_role: Role
    assignee_sites: tuple[str, ...] | None = None


class ShareInformation(Command):
    disclosure: Disclosure


class WithdrawConsent(Command):
    reason: Annotated[str, Personal(min_length=3, max_length=1000)]


class CloseCase(Command):
    outcome: ClosureOutcome


class RequestCourtReport(Command):
    purpose: CourtReportPurpose
    hearing_at: datetime
    recipients: tuple[Recipient, ...] = Field(min_length=1)
    due_at: datetime | None = Field(default=None, description="Default: the site's lead time before the hearing")


class RecordCourtReportDelivered(Command):
    """Sent by the court report's workflow once the report has reached its recipients."""

    report_id: str
    recipients: tuple[Recipient, ...]


class RecordReferralOutcome(Command):
    referral_id: str = Field(min_length=1, max_length=64)
    status: ReferralStatus
    reason: Annotated[str, Personal(max_length=1000)] = Field(
        default="", description="Required when the service rejects it"
    )


class RecordReferralSent(Command):
    """Sent by the referral's workflow once the service has the referral."""

    referral_id: str
    channel: Literal["email", "http"]


class RecordReferralSendFailed(Command):
    """Sent by the referral's workflow when the referral cannot be delivered."""

    referral_id: str
    reason: str


class ChaseReferral(Command):
    """Sent by the referral's workflow when the service has not answered in time."""

    referral_id: str


class EscalateReferral(Command):
    """Sent by the referral's workflow when the service has still not answered after the chase."""

    referral_id: str


class EndSupport(Command):
    """Sent by the case workflow's timer when the time-boxed link work runs out."""


class OpenScheduledTask(Command):
    """Sent by the case workflow's timer when a scheduled task's time comes."""

    task_id: str


class MarkOverdue(Command):
    """Sent by the case workflow's SLA timer, never by a person."""

    task_id: str


class SendReminder(Command):
    """Sent by the case workflow's timer when a task's reminder time comes."""

    task_id: str


class EscalateTask(Command):
    """Sent by the case workflow's timer when a task is still open past its escalation time."""

    task_id: str
