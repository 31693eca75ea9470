"""The API's request and response bodies, and the refusals every operation documents."""

from datetime import date
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, JsonValue

from domain.model import AgeBand, Cohort, Person, ReferralSource, Setting, Sex
from domain.outcomes import JusticeOutcome


class ErrorBody(BaseModel):
    """Every refusal: a sentence a person understands, the rule it broke, and per-field messages."""

    error: str
    rule: str | None = None
    fields: dict[str, str] | None = None


REFUSALS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "The request could not be read",
        401: "Not signed in, or the sign-in has expired",
        403: "Your role or sites do not allow it",
        404: "No such case or task in your sites",
        409: "Not possible in the case's current state (e.g. someone completed the task first)",
        413: "The request is too large",
        422: "The input is not valid (per-field messages in `fields`)",
        503: "Cannot be done at the moment: try again",
    }.items()
}
# A document route answers a refusal with the same JSON ErrorBody as every other route; say so, or
# the schema would claim refusals come as HTML too.
DOCUMENT_REFUSALS: dict[int | str, dict[str, Any]] = {
    status: refusal | {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
    for status, refusal in REFUSALS.items()
}


class CompleteTaskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: dict[str, JsonValue] = Field(description="The outcome; its schema depends on the task's kind")


class ReassignTaskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str = Field(min_length=1, max_length=64, description="Staff id of the person who takes the task")


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
