"""How long an episode's record is kept, by record class.

The defaults are those of the NHS Records Management Code of Practice (2023): an adult health record
8 years after the episode ends, a mental health record 20 years after it ends, a child's record
until the 25th birthday (the 26th if the young person was 17 when it ended).

A record can belong to more than one class, and is then kept until the latest of their ends (the
Code's rule for a record that two classes cover). The classes are given by what the record holds:
- child: the case was opened as a child's, or the person was under 18 when it ended;
- adult_health: the person was 18 or over when it ended (or their age is unknown and the case was
  opened as an adult's);
- mental_health: a mental health or self-harm need was found at screening or assessment, or a
  referral was made to a mental health service.

A child's record with no date of birth cannot be dated: it is kept and reported for review, never
shredded on a guess.

A person's episodes are one health record (issue 19): an episode is kept as long as any other episode
of the same person is, so the record runs from their last contact (`with_other_episodes`).
"""

from collections.abc import Sequence
from datetime import date
from enum import StrEnum

from pydantic import Field

from domain.age import age_on
from domain.config import ADULTHOOD, RetentionConfig
from domain.model import AgeBand, Strict
from domain.outcomes import ServiceType, VulnerabilityDomain
from domain.state import CaseState
from domain.timeline import UK

MENTAL_HEALTH_NEEDS = frozenset({VulnerabilityDomain.MENTAL_HEALTH, VulnerabilityDomain.SELF_HARM_OR_SUICIDE})
# A referral to either makes the record a mental health record (CAMHS is children's mental health care).
MENTAL_HEALTH_SERVICES = frozenset({ServiceType.MENTAL_HEALTH, ServiceType.CAMHS})


class RecordClass(StrEnum):
    ADULT_HEALTH = "adult_health"
    CHILD = "child"
    MENTAL_HEALTH = "mental_health"


class Retention(Strict):
    """What the record of one closed episode is and how long it is kept."""

    record_classes: tuple[RecordClass, ...]
    keep_until: date | None = Field(description="The first day it may be shredded; None: it cannot be dated")
    review_reason: str | None = None

    def expired_on(self, day: date) -> bool:
        return self.keep_until is not None and day >= self.keep_until


def retention_of(state: CaseState, date_of_birth: date | None, config: RetentionConfig) -> Retention:
    """The retention of a closed case, given the person's date of birth (kept sealed in the state)."""
    if state.closed_at is None:
        raise ValueError(f"case {state.case_id} is open: an open episode has no retention end yet")
    ended = state.closed_at.astimezone(UK).date()
    age_at_end = None if date_of_birth is None else age_on(date_of_birth, ended)
    child = state.age_band is AgeBand.CHILD or (age_at_end is not None and age_at_end < ADULTHOOD)
    adult = not child if age_at_end is None else age_at_end >= ADULTHOOD
    mental_health = _holds_mental_health(state)
    applying = (
        (RecordClass.CHILD, child),
        (RecordClass.ADULT_HEALTH, adult),
        (RecordClass.MENTAL_HEALTH, mental_health),
    )
    classes = tuple(record_class for record_class, applies in applying if applies)
    if child and date_of_birth is None:
        reason = "a child's record with no date of birth: the birthday it is kept until is unknown"
        return Retention(record_classes=classes, keep_until=None, review_reason=reason)
    ends: list[date] = []
    if child and date_of_birth is not None:
        birthday = config.child.until_birthday_if_17_at_end if age_at_end == 17 else config.child.until_birthday
        ends.append(_anniversary(date_of_birth, birthday))
    if adult:
        ends.append(_anniversary(ended, config.adult_health.years_after_end))
    if mental_health:
        ends.append(_anniversary(ended, config.mental_health.years_after_end))
    return Retention(record_classes=classes, keep_until=max(ends))


def with_other_episodes(own: Retention, others: Sequence[Retention | None]) -> Retention:
    """The episode's retention as part of its person's record: kept until the latest day any of the
    person's episodes is (`others`; None for an episode still open, which ends nothing yet)."""
    if own.keep_until is None or not others:
        return own
    if any(other is None or other.keep_until is None for other in others):
        return own.model_copy(update={"keep_until": None})  # not yet datable: kept, but no review needed
    latest = max([own.keep_until, *(other.keep_until for other in others if other and other.keep_until)])
    return own.model_copy(update={"keep_until": latest})


def _holds_mental_health(state: CaseState) -> bool:
    found = set(state.screening.domains if state.screening else ())
    found |= {v.domain for v in state.assessment.vulnerabilities} if state.assessment else set()
    referred = any(r.request.service in MENTAL_HEALTH_SERVICES for r in state.referrals)
    return referred or bool(found & MENTAL_HEALTH_NEEDS)


def _anniversary(day: date, years: int) -> date:
    """The same day `years` later; 29 February falls on 1 March, so nothing is shredded a day early."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)
