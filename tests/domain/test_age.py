"""Age is a rule, not a flag (issue 17): no one under 10; the band worked out from the date of birth
on the day of identification, a contradicting band refused; with no date of birth a band is required
and the case is "age not verified" until one is recorded, which may move it to the other pathway.
Each refusal by its rule id, with the case unchanged."""

from collections.abc import Callable
from datetime import date, timedelta

import pytest

from domain.age import age_on, band_at_identification
from domain.commands import OpenCase, RecordDateOfBirth
from domain.config import RetentionConfig
from domain.errors import Rule, RuleViolation
from domain.events import AgeBandChanged, CaseOpened, DateOfBirthRecorded
from domain.model import AgeBand, Person, Setting
from domain.plaintext import check_date_of_birth, check_opening
from domain.retention import retention_of
from tests.domain.support import AUDITOR, NOW, PRACTITIONER, TEAM_LEAD, Case, make_site, open_case

TODAY = NOW.date()  # Monday 2 March 2026


def born_years_ago(years: int, days: int = 0) -> str:
    """A date of birth `years` whole years before TODAY, moved `days` later (so younger)."""
    return (TODAY.replace(year=TODAY.year - years) + timedelta(days=days)).isoformat()


def opening(born: str | None, age_band: AgeBand | None = None, setting: Setting = Setting.CUSTODY) -> OpenCase:
    return open_case(setting=setting).model_copy(update={"person": Person(date_of_birth=born), "age_band": age_band})


def refused_by(case: Case, attempt: Callable[[], object], rule: Rule) -> RuleViolation:
    """`attempt` is refused naming `rule`, and nothing about the case changed."""
    before, recorded = case.state.model_copy(deep=True), len(case.envelopes)
    with pytest.raises(RuleViolation) as caught:
        attempt()
    assert caught.value.rule is rule, caught.value.message
    assert case.state == before and len(case.envelopes) == recorded
    return caught.value


def start(case: Case, command: OpenCase) -> None:
    """What the service does: the plaintext checks, then the workflow's decision."""
    case.send(check_opening(command, TODAY))


@pytest.mark.parametrize("days_short", [1, 365])
def test_a_person_under_ten_at_identification_is_refused(days_short: int) -> None:
    case = Case(make_site())
    refusal = refused_by(
        case, lambda: start(case, opening(born_years_ago(10, days_short))), Rule.UNDER_CRIMINAL_RESPONSIBILITY
    )
    assert "9 when identified" in refusal.message and "under 10" in refusal.message
    assert case.state.stage is None


def test_a_person_ten_today_is_a_child() -> None:
    case = Case(make_site())
    start(case, opening(born_years_ago(10)))
    assert (case.state.age_band, case.state.age_verified) == (AgeBand.CHILD, True)


@pytest.mark.parametrize(
    ("born", "band"),
    [(born_years_ago(18, 1), AgeBand.CHILD), (born_years_ago(18), AgeBand.ADULT), (born_years_ago(40), AgeBand.ADULT)],
)
def test_the_band_is_worked_out_from_the_date_of_birth(born: str, band: AgeBand) -> None:
    case = Case(make_site())
    start(case, opening(born))
    [opened] = [e for e in case.envelopes if isinstance(e.event, CaseOpened)]
    assert isinstance(opened.event, CaseOpened)
    assert (opened.event.age_band, opened.event.age_verified) == (band, True)
    assert (case.state.age_band, case.state.age_verified) == (band, True)


@pytest.mark.parametrize(
    ("born", "stated"),
    [(born_years_ago(18), AgeBand.CHILD), (born_years_ago(15), AgeBand.ADULT)],
    ids=["an 18-year-old as a child", "a 15-year-old as an adult"],
)
def test_a_band_the_date_of_birth_contradicts_is_refused(born: str, stated: AgeBand) -> None:
    case = Case(make_site())
    refusal = refused_by(case, lambda: start(case, opening(born, stated)), Rule.AGE_BAND_CONTRADICTS_BIRTH_DATE)
    assert "leave the age band out" in refusal.message


def test_a_band_the_date_of_birth_agrees_with_is_accepted() -> None:
    case = Case(make_site())
    start(case, opening(born_years_ago(15), AgeBand.CHILD))
    assert case.state.age_band is AgeBand.CHILD


def test_with_no_date_of_birth_a_band_is_required() -> None:
    case = Case(make_site())
    refusal = refused_by(case, lambda: start(case, opening(None)), Rule.AGE_BAND_REQUIRED)
    assert "age not verified" in refusal.message


def test_an_age_verified_without_a_date_of_birth_is_refused_by_the_workflow() -> None:
    case = Case(make_site())
    forged = opening(None, AgeBand.ADULT).model_copy(update={"age_verified": True})
    refused_by(case, lambda: case.send(forged), Rule.INVALID_COMMAND)


def test_the_service_decides_whether_the_age_is_verified_not_the_caller() -> None:
    claimed = opening(None, AgeBand.ADULT).model_copy(update={"age_verified": True})
    assert check_opening(claimed, TODAY).age_verified is False


def test_a_case_with_no_date_of_birth_is_age_not_verified_until_one_is_recorded() -> None:
    case = Case(make_site())
    start(case, opening(None, AgeBand.CHILD))
    assert (case.state.age_band, case.state.age_verified) == (AgeBand.CHILD, False)

    case.advance(days=2)
    learnt = RecordDateOfBirth(actor=PRACTITIONER, date_of_birth=born_years_ago(15))
    events = case.send(check_date_of_birth(case.state, learnt, TODAY + timedelta(days=2)))
    assert events == [DateOfBirthRecorded(date_of_birth=learnt.date_of_birth, age_band=AgeBand.CHILD)]
    assert (case.state.age_band, case.state.age_verified) == (AgeBand.CHILD, True)
    assert case.state.person.date_of_birth == learnt.date_of_birth


@pytest.mark.parametrize(
    ("stated", "born", "becomes"),
    [(AgeBand.CHILD, born_years_ago(19), AgeBand.ADULT), (AgeBand.ADULT, born_years_ago(16), AgeBand.CHILD)],
    ids=["a child's case that is an adult's", "an adult's case that is a child's"],
)
def test_a_date_of_birth_that_gives_the_other_band_moves_the_case_to_that_pathway(
    stated: AgeBand, born: str, becomes: AgeBand
) -> None:
    case = Case(make_site())
    start(case, opening(None, stated))
    events = case.send(check_date_of_birth(case.state, RecordDateOfBirth(actor=TEAM_LEAD, date_of_birth=born), TODAY))
    assert [type(e) for e in events] == [DateOfBirthRecorded, AgeBandChanged]
    changed = events[1]
    assert isinstance(changed, AgeBandChanged) and (changed.previous, changed.age_band) == (stated, becomes)
    assert (case.state.age_band, case.state.age_verified) == (becomes, True)


def test_a_child_who_turns_18_during_the_episode_stays_on_the_youth_pathway() -> None:
    case = Case(make_site())
    start(case, opening(None, AgeBand.CHILD))
    born = born_years_ago(18, 1)  # 18 tomorrow
    case.advance(days=30)  # the date of birth is learnt a month later, after the birthday
    later = TODAY + timedelta(days=30)
    assert age_on(date.fromisoformat(born), later) == 18
    case.send(check_date_of_birth(case.state, RecordDateOfBirth(actor=PRACTITIONER, date_of_birth=born), later))
    assert case.state.age_band is AgeBand.CHILD  # judged on the day of identification


def test_a_date_of_birth_recorded_later_that_makes_the_person_under_ten_is_refused() -> None:
    case = Case(make_site())
    start(case, opening(None, AgeBand.CHILD))
    learnt = RecordDateOfBirth(actor=PRACTITIONER, date_of_birth=born_years_ago(9))
    refused_by(case, lambda: check_date_of_birth(case.state, learnt, TODAY), Rule.UNDER_CRIMINAL_RESPONSIBILITY)


def test_a_date_of_birth_command_without_the_band_the_service_works_out_is_refused() -> None:
    case = Case(make_site())
    start(case, opening(None, AgeBand.CHILD))
    unchecked = RecordDateOfBirth(actor=PRACTITIONER, date_of_birth=born_years_ago(15))
    refused_by(case, lambda: case.send(unchecked), Rule.AGE_BAND_REQUIRED)


def test_auditors_cannot_record_a_date_of_birth() -> None:
    case = Case(make_site())
    start(case, opening(None, AgeBand.CHILD))
    auditor = RecordDateOfBirth(actor=AUDITOR, date_of_birth=born_years_ago(15), age_band=AgeBand.CHILD)
    refused_by(case, lambda: case.send(auditor), Rule.ROLE_NOT_ALLOWED)


def test_the_youth_court_takes_a_child_whose_band_comes_from_the_date_of_birth() -> None:
    case = Case(make_site())
    start(case, opening(born_years_ago(14), setting=Setting.YOUTH_COURT))
    assert case.state.setting is Setting.YOUTH_COURT
    adult = Case(make_site())
    refused_by(
        adult,
        lambda: start(adult, opening(born_years_ago(30), setting=Setting.YOUTH_COURT)),
        Rule.YOUTH_COURT_IS_FOR_CHILDREN,
    )


def test_retention_still_uses_the_age_at_the_end() -> None:
    """A child's case whose person turned 18 before it closed: kept as a child's record and as an
    adult's, as before this issue."""
    born = date.fromisoformat(born_years_ago(18, 10))
    assert band_at_identification(born, TODAY, None) is AgeBand.CHILD
    case = Case(make_site())
    start(case, opening(born.isoformat()))
    closed = case.state.model_copy(update={"closed_at": NOW + timedelta(days=40)})
    retention = retention_of(closed, born, RetentionConfig())
    assert {"child", "adult_health"} <= {str(c) for c in retention.record_classes}
