"""The API's request bodies (refusals are api/problems.py's)."""

from datetime import date
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, JsonValue

from domain.model import AgeBand, Cohort, Person, ReferralSource, Setting, Sex
from domain.outcomes import CourtReportPurpose, JusticeOutcome, Recipient, ReferralStatus

# Its bounds are the service's (domain/access.py); the cap here only bounds what is read.
BREAK_GLASS_REASON = "Needed to read a case outside your sites (10 to 500 characters)"


class CompleteTaskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: dict[str, JsonValue] = Field(description="The outcome; its schema depends on the task's kind")


class ReassignTaskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str = Field(min_length=1, max_length=64, description="Staff id of the person who takes the task")


class FindCaseBody(BaseModel):
    """A custody or court reference, sent in the body: in a URL it would be kept in browser histories
    and in the access logs of every proxy between the client and Pathway."""

    model_config = ConfigDict(extra="forbid")

    site: str = Field(min_length=1, max_length=40)
    ref: str = Field(min_length=1, max_length=64, description="The custody or court reference")
    break_glass_reason: str | None = Field(default=None, max_length=2000, description=BREAK_GLASS_REASON)


class ExportBody(BaseModel):
    """Why a record is exported: sealed in the access log, since it may say who the person is."""

    model_config = ConfigDict(extra="forbid")

    purpose: str = Field(min_length=3, max_length=200, description="Why: e.g. subject access request")


class BreakGlassBody(BaseModel):
    """Why you read a case outside your sites: sealed in the access log, and the site's team leads are
    alerted (without it)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=2000, description=BREAK_GLASS_REASON)


class StartCaseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: str = Field(min_length=1, max_length=40)
    setting: Setting
    source: ReferralSource
    external_ref: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9/._-]+$")
    age_band: AgeBand | None = Field(
        default=None,
        description="child (10-17) or adult: worked out from person.date_of_birth when given, required when not",
    )
    cohorts: tuple[Cohort, ...] = ()
    person: Person = Person()
    sex: Sex | None = Field(default=None, description="The person's sex as they state it, if they do")
    identified_at: AwareDatetime | None = Field(
        default=None,
        description="When the person was identified (e.g. arrived in custody), with its offset; the SLA counts "
        "from it. Default: now",
    )


class ChangeCohortBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cohort: Cohort
    member: bool = Field(description="True: put the person on the cohort's pathway; false: take them off it")
    reason: str = Field(min_length=3, max_length=1000, description="Why (recorded)")


def _written_date(value: object) -> object:
    """A date as JSON writes one: text, never a number (pydantic would read 0 as 1970-01-01)."""
    if not isinstance(value, str | date):
        raise ValueError("write the date as YYYY-MM-DD")
    return value


class RecordJusticeOutcomeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: JusticeOutcome = Field(description="What the justice system decided (a charge, an outcome, a sentence)")


class RecordReleaseDateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    release_on: Annotated[date, BeforeValidator(_written_date)] = Field(
        description="YYYY-MM-DD: when the person leaves (or left) custody"
    )


class RecordDateOfBirthBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date_of_birth: Annotated[date, BeforeValidator(_written_date)] = Field(description="YYYY-MM-DD")


class RecordReferralOutcomeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ReferralStatus = Field(description="What came of the referral")
    reason: str = Field(default="", max_length=1000, description="Required when the service rejected it (recorded)")


class RequestCourtReportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: CourtReportPurpose = Field(description="What the court needs the report for")
    hearing_at: AwareDatetime = Field(description="When the hearing is, with its offset")
    recipients: tuple[Recipient, ...] = Field(min_length=1, description="Who receives the report")
    due_at: AwareDatetime | None = Field(
        default=None,
        description="When the report is due, with its offset. Default: the site's lead time before the hearing",
    )


class LinkPersonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_id: str = Field(
        pattern=r"^person-[0-9a-f-]{36}$", description="The person seen before, with an episode in your sites"
    )
    basis: str = Field(min_length=3, max_length=500, description="How you know it is the same person (recorded)")


class UnlinkPersonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=500, description="Why the link was wrong (recorded)")
