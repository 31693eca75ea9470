"""Vocabulary shared by events, tasks and commands."""

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from domain.personal import Personal


class Strict(BaseModel):
    """Base for every domain model: unknown fields are an error and values never change."""

    # Surrounding whitespace is dropped, so a reason of only spaces counts as empty.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Stage(StrEnum):
    IDENTIFIED = "identified"
    SCREENING = "screening"
    ASSESSMENT = "assessment"
    INFORMATION_SHARING = "information_sharing"
    REFERRAL = "referral"
    SUPPORT = "support"
    FOLLOW_UP = "follow_up"
    CLOSED = "closed"


class Setting(StrEnum):
    CUSTODY = "custody"
    VOLUNTARY_ATTENDANCE = "voluntary_attendance"
    MAGISTRATES_COURT = "magistrates_court"
    YOUTH_COURT = "youth_court"
    CROWN_COURT = "crown_court"
    COMMUNITY = "community"


class ReferralSource(StrEnum):
    CUSTODY_STAFF = "custody_staff"
    COURT_STAFF = "court_staff"
    YOUTH_OFFENDING_TEAM = "youth_offending_team"
    PROBATION = "probation"
    OTHER_AGENCY = "other_agency"
    SELF_REFERRAL = "self_referral"


class AgeBand(StrEnum):
    CHILD = "child"  # 10-17: the youth variant of the pathway
    ADULT = "adult"


class Sex(StrEnum):
    """The person's sex as they state it (never inferred): it offers the women's pathway at screening."""

    FEMALE = "female"
    MALE = "male"
    OTHER = "other"


class Cohort(StrEnum):
    WOMENS_PATHWAY = "womens_pathway"
    VETERAN = "veteran"
    CARE_LEAVER = "care_leaver"


class Role(StrEnum):
    PRACTITIONER = "practitioner"
    LINK_WORKER = "link_worker"
    TEAM_LEAD = "team_lead"
    AUDITOR = "auditor"
    OPERATOR = "operator"
    ADMIN = "admin"
    SYSTEM = "system"  # the workflow itself: timers, escalations

    @property
    def with_article(self) -> str:
        """For sentences: "a practitioner", "an auditor"."""
        return f"{'an' if self.value[0] in 'aeiou' else 'a'} {self.value}"


class Actor(Strict):
    """Who did something. `staff_id` is an opaque staff identifier, never a name."""

    staff_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    role: Role


SYSTEM_ACTOR = Actor(staff_id="pathway", role=Role.SYSTEM)


class Person(Strict):
    """The person the episode is about. Every field is personal data."""

    name: Annotated[str | None, Personal(max_length=200, single_line=True)] = None
    date_of_birth: Annotated[str | None, Personal(is_date=True)] = Field(default=None, description="YYYY-MM-DD")
    # Free text over several lines: a UK postal address is written one line per part (house, street,
    # town, postcode), and people paste it so. Other control characters are still refused.
    address: Annotated[str | None, Personal(max_length=500)] = None
    nhs_number: Annotated[str | None, Personal(pattern=r"^\d{10}$", nhs_number=True)] = Field(
        default=None, description="Ten digits, the last a Modulus 11 check digit"
    )
