"""When and how old: the rules for a case's identification that the workflow itself can judge.

The person's date of birth is sealed by then, so the band it gives was worked out at the edge
(domain/plaintext.py, by domain/age.py's rules); here the workflow checks that a band is there, that
a verified one came with a date of birth, and that the time of identification is believable: not in
the future, and not further back than the site allows an alert to be entered late.
"""

from datetime import datetime, timedelta

from domain.commands import OpenCase, RecordDateOfBirth
from domain.decisions import DecisionContext, require
from domain.errors import Rule
from domain.events import AgeBandChanged, DateOfBirthRecorded, DomainEvent
from domain.model import AgeBand
from domain.state import CaseState
from domain.timeline import when


def identification_time(command: OpenCase, ctx: DecisionContext) -> datetime:
    """When the person was identified: the command's time if it gives one (checked), else now."""
    identified = command.identified_at
    if identified is None:
        return ctx.now
    require(
        identified <= ctx.now,
        Rule.IDENTIFIED_IN_FUTURE,
        f"the identification time ({when(identified)}) is in the future: give when the person was identified",
    )
    window = timedelta(hours=ctx.site.identification_window_hours)
    require(
        identified >= ctx.now - window,
        Rule.IDENTIFIED_TOO_LONG_AGO,
        f"the identification time ({when(identified)}) is more than {ctx.site.identification_window_hours} hours "
        f"ago: site {ctx.site.site_id} takes alerts entered up to that long after identification",
    )
    return identified


def age_band_of(command: OpenCase) -> AgeBand:
    """The band the case opens on: given, or worked out from the date of birth by the service."""
    require(
        command.age_band is not None,
        Rule.AGE_BAND_REQUIRED,
        "with no date of birth, say whether the person is a child (10-17) or an adult; "
        "the case is marked 'age not verified' until a date of birth is recorded",
    )
    require(
        not command.age_verified or command.person.date_of_birth is not None,
        Rule.INVALID_COMMAND,
        "an age is verified only by a date of birth",
    )
    assert command.age_band is not None
    return command.age_band


def record_date_of_birth(state: CaseState, command: RecordDateOfBirth) -> list[DomainEvent]:
    """The date of birth and the band it gives; a band other than the case's moves it to that pathway."""
    require(
        command.age_band is not None,
        Rule.AGE_BAND_REQUIRED,
        "the age band a date of birth gives is worked out by the service, and this command came without it",
    )
    assert command.age_band is not None and state.age_band is not None
    recorded = DateOfBirthRecorded(date_of_birth=command.date_of_birth, age_band=command.age_band)
    if command.age_band is state.age_band:
        return [recorded]
    reason = (
        "the date of birth shows the person was 18 or over when identified"
        if command.age_band is AgeBand.ADULT
        else "the date of birth shows the person was 10-17 when identified"
    )
    return [recorded, AgeBandChanged(previous=state.age_band, age_band=command.age_band, reason=reason)]
