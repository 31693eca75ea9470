"""Record retention: which classes a closed episode's record is in, and the first day it may be shredded.

Every expected date below is worked out by hand from the NHS Records Management Code of Practice
defaults (adult 8 years after the end, mental health 20 years, a child until the 25th birthday, or
the 26th if 17 at the end), never by repeating the module's arithmetic.
"""

from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.config import RetentionConfig, UntilBirthday, YearsAfterEnd
from domain.model import AgeBand, Stage
from domain.outcomes import (
    AssessmentOutcome,
    ReferralRequest,
    RiskLevel,
    ScreeningOutcome,
    ServiceType,
    Urgency,
    Vulnerability,
    VulnerabilityDomain,
)
from domain.retention import RecordClass, Retention, retention_of, with_other_episodes
from domain.state import CaseState, Referral
from workers.settings import SHIPPED_CONFIG, ConfigError, load_config

DEFAULTS = RetentionConfig()
LONDON = ZoneInfo("Europe/London")


def utc(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    """Midday UTC by default: the same calendar day in London all year round."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def closed_case(
    closed_at: datetime | None,
    age_band: AgeBand | None = AgeBand.ADULT,
    screening: ScreeningOutcome | None = None,
    assessment: AssessmentOutcome | None = None,
    referrals: tuple[Referral, ...] = (),
) -> CaseState:
    return CaseState(
        case_id="case-retention-1",
        stage=Stage.CLOSED if closed_at is not None else Stage.SUPPORT,
        closed_at=closed_at,
        age_band=age_band,
        screening=screening,
        assessment=assessment,
        referrals=referrals,
    )


def screening(*domains: VulnerabilityDomain) -> ScreeningOutcome:
    return ScreeningOutcome(
        instrument="ld-screen",
        instrument_version="2019",
        urgency=Urgency.ROUTINE,
        domains=list(domains),
        risk_level=RiskLevel.LOW,
        assessment_needed=True,
    )


def assessment(*domains: VulnerabilityDomain) -> AssessmentOutcome:
    return AssessmentOutcome(
        instrument="ld-assess",
        instrument_version="2019",
        vulnerabilities=[Vulnerability(domain=d, severity="moderate") for d in domains],
    )


def referral(service: ServiceType) -> Referral:
    return Referral(
        referral_id="ref-1",
        request=ReferralRequest(service=service, reason="needs support from this service"),
        made_at=utc(2026, 3, 1),
    )


def assert_first_shred_day(retention: Retention, first_day: date) -> None:
    """Kept through the day before `first_day`; expired on it and every day after."""
    assert retention.keep_until == first_day
    assert not retention.expired_on(first_day - timedelta(days=1))
    assert not retention.expired_on(first_day - timedelta(days=365))
    assert retention.expired_on(first_day)
    assert retention.expired_on(first_day + timedelta(days=1))
    assert retention.expired_on(first_day + timedelta(days=3650))


# --- adult health: 8 years after the UK-local day the episode ended ---------------------------------------


def test_adult_record_is_kept_until_exactly_eight_years_after_closure() -> None:
    retention = retention_of(closed_case(utc(2026, 3, 10)), date(1980, 5, 17), DEFAULTS)
    assert retention.record_classes == (RecordClass.ADULT_HEALTH,)
    assert retention.review_reason is None
    assert_first_shred_day(retention, date(2034, 3, 10))
    assert not retention.expired_on(date(2034, 3, 9))
    assert retention.expired_on(date(2034, 3, 10))


def test_adult_with_no_date_of_birth_is_an_adult_health_record() -> None:
    retention = retention_of(closed_case(utc(2026, 3, 10)), None, DEFAULTS)
    assert retention.record_classes == (RecordClass.ADULT_HEALTH,)
    assert retention.review_reason is None
    assert_first_shred_day(retention, date(2034, 3, 10))


def test_no_age_band_and_no_date_of_birth_is_dated_as_an_adult() -> None:
    retention = retention_of(closed_case(utc(2026, 3, 10), age_band=None), None, DEFAULTS)
    assert retention.record_classes == (RecordClass.ADULT_HEALTH,)
    assert retention.keep_until == date(2034, 3, 10)


def test_a_late_evening_summer_closure_is_the_next_uk_day() -> None:
    # 23:30 UTC on 30 June is 00:30 BST on 1 July: the episode ended on 1 July.
    retention = retention_of(closed_case(utc(2026, 6, 30, 23, 30)), None, DEFAULTS)
    assert_first_shred_day(retention, date(2034, 7, 1))
    assert not retention.expired_on(date(2034, 6, 30))


def test_a_late_evening_winter_closure_is_the_same_uk_day() -> None:
    # 23:30 UTC on 31 December is 23:30 GMT: the episode ended on 31 December, not New Year's Day.
    retention = retention_of(closed_case(utc(2026, 12, 31, 23, 30)), None, DEFAULTS)
    assert_first_shred_day(retention, date(2034, 12, 31))


def test_a_closure_given_in_another_zone_is_read_as_uk_time() -> None:
    # 01:30 on 1 July in UTC+05:00 is 20:30 UTC / 21:30 BST on 30 June.
    closed = datetime(2026, 7, 1, 1, 30, tzinfo=timezone(timedelta(hours=5)))
    retention = retention_of(closed_case(closed), None, DEFAULTS)
    assert retention.keep_until == date(2034, 6, 30)


def test_an_open_case_has_no_retention() -> None:
    with pytest.raises(ValueError, match="is open"):
        retention_of(closed_case(None), date(1980, 5, 17), DEFAULTS)


def test_an_open_case_is_refused_even_without_a_date_of_birth() -> None:
    with pytest.raises(ValueError, match="case-retention-1"):
        retention_of(closed_case(None, age_band=AgeBand.CHILD), None, DEFAULTS)


# --- mental health: 20 years after the end ------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            closed_case(utc(2026, 3, 10), screening=screening(VulnerabilityDomain.MENTAL_HEALTH)), id="screen"
        ),
        pytest.param(
            closed_case(
                utc(2026, 3, 10),
                screening=screening(VulnerabilityDomain.HOUSING, VulnerabilityDomain.SELF_HARM_OR_SUICIDE),
            ),
            id="screening-self-harm",
        ),
        pytest.param(
            closed_case(utc(2026, 3, 10), assessment=assessment(VulnerabilityDomain.MENTAL_HEALTH)),
            id="assessment-mental-health",
        ),
        pytest.param(
            closed_case(utc(2026, 3, 10), assessment=assessment(VulnerabilityDomain.SELF_HARM_OR_SUICIDE)),
            id="assessment-self-harm",
        ),
        pytest.param(
            closed_case(utc(2026, 3, 10), referrals=(referral(ServiceType.MENTAL_HEALTH),)),
            id="mental-health-referral",
        ),
    ],
)
def test_a_mental_health_need_or_referral_keeps_the_record_twenty_years(case: CaseState) -> None:
    retention = retention_of(case, date(1980, 5, 17), DEFAULTS)
    assert RecordClass.MENTAL_HEALTH in retention.record_classes
    assert RecordClass.ADULT_HEALTH in retention.record_classes
    assert_first_shred_day(retention, date(2046, 3, 10))
    assert not retention.expired_on(date(2034, 3, 10))  # the adult end alone would have passed


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(closed_case(utc(2026, 3, 10), screening=screening(VulnerabilityDomain.HOUSING)), id="housing"),
        pytest.param(closed_case(utc(2026, 3, 10), screening=screening()), id="nothing-flagged"),
        pytest.param(
            closed_case(
                utc(2026, 3, 10),
                assessment=assessment(VulnerabilityDomain.TRAUMA, VulnerabilityDomain.SUBSTANCE_MISUSE),
            ),
            id="assessment-other-needs",
        ),
        pytest.param(
            closed_case(utc(2026, 3, 10), referrals=(referral(ServiceType.HOUSING), referral(ServiceType.WELLBEING))),
            id="other-referrals",
        ),
        pytest.param(closed_case(utc(2026, 3, 10)), id="no-outcomes"),
    ],
)
def test_without_a_mental_health_need_the_record_is_adult_health_only(case: CaseState) -> None:
    retention = retention_of(case, date(1980, 5, 17), DEFAULTS)
    assert retention.record_classes == (RecordClass.ADULT_HEALTH,)
    assert_first_shred_day(retention, date(2034, 3, 10))


def test_mental_health_applies_to_a_child_too_and_the_later_end_wins() -> None:
    # Born 1 Sep 2012, 13 at a closure on 10 Mar 2026: the 25th birthday is 1 Sep 2037, but twenty
    # years after the end (10 Mar 2046) is later.
    case = closed_case(utc(2026, 3, 10), age_band=AgeBand.CHILD, screening=screening(VulnerabilityDomain.MENTAL_HEALTH))
    retention = retention_of(case, date(2012, 9, 1), DEFAULTS)
    assert set(retention.record_classes) == {RecordClass.CHILD, RecordClass.MENTAL_HEALTH}
    assert_first_shred_day(retention, date(2046, 3, 10))


# --- children: until a birthday ---------------------------------------------------------------------------------


def test_a_child_record_is_kept_until_the_25th_birthday() -> None:
    # Born 14 Aug 2011; 14 at a closure on 10 Mar 2026. 25th birthday: 14 Aug 2036.
    retention = retention_of(closed_case(utc(2026, 3, 10), age_band=AgeBand.CHILD), date(2011, 8, 14), DEFAULTS)
    assert retention.record_classes == (RecordClass.CHILD,)
    assert retention.review_reason is None
    assert_first_shred_day(retention, date(2036, 8, 14))


def test_a_child_who_was_17_at_the_end_is_kept_until_the_26th_birthday() -> None:
    # Born 20 Nov 2008; 17 on 10 Mar 2026 (18 only on 20 Nov 2026). 26th birthday: 20 Nov 2034.
    retention = retention_of(closed_case(utc(2026, 3, 10), age_band=AgeBand.CHILD), date(2008, 11, 20), DEFAULTS)
    assert retention.record_classes == (RecordClass.CHILD,)
    assert_first_shred_day(retention, date(2034, 11, 20))


def test_the_day_before_the_18th_birthday_is_still_17() -> None:
    # Born 11 Mar 2008: on 10 Mar 2026 still 17, so the 26th birthday (11 Mar 2034) applies.
    retention = retention_of(closed_case(utc(2026, 3, 10), age_band=AgeBand.CHILD), date(2008, 3, 11), DEFAULTS)
    assert retention.record_classes == (RecordClass.CHILD,)
    assert retention.keep_until == date(2034, 3, 11)


def test_opened_as_a_child_but_18_at_the_end_is_both_classes_and_the_later_end() -> None:
    # Born 10 Mar 2008: 18 on the day of a closure on 10 Mar 2026. 25th birthday 10 Mar 2033; eight
    # years after the end 10 Mar 2034, which is later.
    retention = retention_of(closed_case(utc(2026, 3, 10), age_band=AgeBand.CHILD), date(2008, 3, 10), DEFAULTS)
    assert set(retention.record_classes) == {RecordClass.CHILD, RecordClass.ADULT_HEALTH}
    assert RecordClass.MENTAL_HEALTH not in retention.record_classes
    assert_first_shred_day(retention, date(2034, 3, 10))


def test_both_classes_with_the_child_end_later() -> None:
    # Same person, but children's records kept to the 30th birthday: 10 Mar 2038 beats 10 Mar 2034.
    config = RetentionConfig(child=UntilBirthday(until_birthday=30, until_birthday_if_17_at_end=31))
    retention = retention_of(closed_case(utc(2026, 3, 10), age_band=AgeBand.CHILD), date(2008, 3, 10), config)
    assert set(retention.record_classes) == {RecordClass.CHILD, RecordClass.ADULT_HEALTH}
    assert_first_shred_day(retention, date(2038, 3, 10))


def test_opened_as_an_adult_but_under_18_at_the_end_is_a_child_record() -> None:
    # Band recorded as adult, but born 1 Jan 2010: 16 at a closure on 10 Mar 2026. 25th: 1 Jan 2035.
    retention = retention_of(closed_case(utc(2026, 3, 10), age_band=AgeBand.ADULT), date(2010, 1, 1), DEFAULTS)
    assert retention.record_classes == (RecordClass.CHILD,)
    assert_first_shred_day(retention, date(2035, 1, 1))


def test_opened_as_an_adult_and_17_at_the_end_gets_the_26th_birthday() -> None:
    # Born 1 Dec 2008: 17 on 10 Mar 2026. 26th birthday 1 Dec 2034.
    retention = retention_of(closed_case(utc(2026, 3, 10), age_band=AgeBand.ADULT), date(2008, 12, 1), DEFAULTS)
    assert retention.record_classes == (RecordClass.CHILD,)
    assert retention.keep_until == date(2034, 12, 1)


def test_the_uk_day_of_closure_decides_the_age_at_the_end() -> None:
    # Born 1 Jul 2008. Closed 23:30 UTC on 30 Jun 2026 = 00:30 BST on 1 Jul 2026, the 18th birthday:
    # an adult at the end (8 years: 1 Jul 2034), not a 17-year-old (26th birthday: 1 Jul 2034 too,
    # so the classes are what tells them apart).
    retention = retention_of(closed_case(utc(2026, 6, 30, 23, 30), age_band=AgeBand.ADULT), date(2008, 7, 1), DEFAULTS)
    assert retention.record_classes == (RecordClass.ADULT_HEALTH,)
    assert retention.keep_until == date(2034, 7, 1)


def test_a_child_with_no_date_of_birth_is_kept_and_sent_for_review() -> None:
    retention = retention_of(closed_case(utc(2026, 3, 10), age_band=AgeBand.CHILD), None, DEFAULTS)
    assert retention.record_classes == (RecordClass.CHILD,)
    assert retention.keep_until is None
    assert retention.review_reason is not None
    assert "date of birth" in retention.review_reason
    for day in (date(2026, 3, 10), date(2034, 3, 10), date(2100, 1, 1), date.max):
        assert not retention.expired_on(day)


def test_a_child_with_no_date_of_birth_and_a_mental_health_need_is_still_undated() -> None:
    case = closed_case(utc(2026, 3, 10), age_band=AgeBand.CHILD, screening=screening(VulnerabilityDomain.MENTAL_HEALTH))
    retention = retention_of(case, None, DEFAULTS)
    assert RecordClass.CHILD in retention.record_classes
    assert retention.keep_until is None
    assert retention.review_reason is not None
    assert not retention.expired_on(date(2046, 3, 10))
    assert not retention.expired_on(date.max)


# --- 29 February --------------------------------------------------------------------------------------------------


def test_a_leap_day_closure_eight_years_on_is_a_leap_day() -> None:
    # 2032 is a leap year, so eight years after 29 Feb 2024 is 29 Feb 2032.
    retention = retention_of(closed_case(utc(2024, 2, 29)), None, DEFAULTS)
    assert_first_shred_day(retention, date(2032, 2, 29))
    assert not retention.expired_on(date(2032, 2, 28))


def test_a_leap_day_closure_one_year_on_falls_on_1_march() -> None:
    # 2025 has no 29 February: the record is kept through 28 Feb and may go on 1 Mar, never a day early.
    config = RetentionConfig(adult_health=YearsAfterEnd(years_after_end=1))
    retention = retention_of(closed_case(utc(2024, 2, 29)), None, config)
    assert_first_shred_day(retention, date(2025, 3, 1))
    assert not retention.expired_on(date(2025, 2, 28))


def test_a_leap_day_closure_twenty_years_on_is_a_leap_day() -> None:
    # 2044 is a leap year.
    case = closed_case(utc(2024, 2, 29), screening=screening(VulnerabilityDomain.MENTAL_HEALTH))
    assert retention_of(case, None, DEFAULTS).keep_until == date(2044, 2, 29)


def test_a_leap_day_birthday_in_a_common_year_falls_on_1_march() -> None:
    # Born 29 Feb 2008; 16 at a closure on 10 Mar 2024; the 25th birthday year 2033 is not a leap
    # year, so the record may go on 1 Mar 2033.
    retention = retention_of(closed_case(utc(2024, 3, 10), age_band=AgeBand.CHILD), date(2008, 2, 29), DEFAULTS)
    assert retention.record_classes == (RecordClass.CHILD,)
    assert_first_shred_day(retention, date(2033, 3, 1))
    assert not retention.expired_on(date(2033, 2, 28))


def test_a_leap_day_birthday_17_at_the_end_falls_on_1_march_of_the_26th_year() -> None:
    # Born 29 Feb 2008; on 28 Feb 2026 still 17 (the 18th birthday, with no 29 Feb, is 1 Mar 2026).
    # 26th birthday: 2034 is not a leap year, so 1 Mar 2034.
    retention = retention_of(closed_case(utc(2026, 2, 28), age_band=AgeBand.CHILD), date(2008, 2, 29), DEFAULTS)
    assert retention.record_classes == (RecordClass.CHILD,)
    assert_first_shred_day(retention, date(2034, 3, 1))


def test_a_leap_day_birthday_comes_of_age_on_1_march() -> None:
    # Born 29 Feb 2008; on 1 Mar 2026 18: an adult record, eight years after the end.
    retention = retention_of(closed_case(utc(2026, 3, 1), age_band=AgeBand.CHILD), date(2008, 2, 29), DEFAULTS)
    assert set(retention.record_classes) == {RecordClass.CHILD, RecordClass.ADULT_HEALTH}
    assert retention.keep_until == date(2034, 3, 1)


def test_a_leap_day_birthday_in_a_leap_year_is_kept_to_29_february() -> None:
    # Children's records kept to the 24th birthday: born 29 Feb 2008, that is 29 Feb 2032 (leap).
    config = RetentionConfig(child=UntilBirthday(until_birthday=24, until_birthday_if_17_at_end=26))
    retention = retention_of(closed_case(utc(2024, 3, 10), age_band=AgeBand.CHILD), date(2008, 2, 29), config)
    assert_first_shred_day(retention, date(2032, 2, 29))


# --- configuration ----------------------------------------------------------------------------------------------


def test_the_defaults_are_the_code_of_practice() -> None:
    assert DEFAULTS.adult_health.years_after_end == 8
    assert DEFAULTS.mental_health.years_after_end == 20
    assert DEFAULTS.child.until_birthday == 25
    assert DEFAULTS.child.until_birthday_if_17_at_end == 26
    assert DEFAULTS.run_at == time(2, 30)
    assert DEFAULTS.timezone == "Europe/London"
    assert DEFAULTS.report_only is False


def test_custom_periods_are_honoured() -> None:
    config = RetentionConfig(
        adult_health=YearsAfterEnd(years_after_end=3),
        mental_health=YearsAfterEnd(years_after_end=12),
        child=UntilBirthday(until_birthday=21, until_birthday_if_17_at_end=23),
    )
    closed = utc(2026, 3, 10)
    adult = retention_of(closed_case(closed), date(1980, 5, 17), config)
    assert_first_shred_day(adult, date(2029, 3, 10))
    mental = retention_of(closed_case(closed, referrals=(referral(ServiceType.MENTAL_HEALTH),)), None, config)
    assert_first_shred_day(mental, date(2038, 3, 10))
    child = retention_of(closed_case(closed, age_band=AgeBand.CHILD), date(2011, 8, 14), config)
    assert_first_shred_day(child, date(2032, 8, 14))  # 21st birthday
    seventeen = retention_of(closed_case(closed, age_band=AgeBand.CHILD), date(2008, 11, 20), config)
    assert_first_shred_day(seventeen, date(2031, 11, 20))  # 23rd birthday


def test_the_run_settings_do_not_move_the_dates() -> None:
    # run_at, timezone and report_only say when and how the schedule runs, not how long records last.
    config = RetentionConfig(run_at=time(4, 0), timezone="America/New_York", report_only=True)
    retention = retention_of(closed_case(utc(2026, 6, 30, 23, 30)), None, config)
    assert retention.keep_until == date(2034, 7, 1)  # still the UK day of closure


def test_from_toml_like_input() -> None:
    config = RetentionConfig.model_validate(
        {
            "run_at": "03:15",
            "report_only": True,
            "adult_health": {"years_after_end": 10},
            "child": {"until_birthday": 25, "until_birthday_if_17_at_end": 25},
        }
    )
    assert config.run_at == time(3, 15)
    assert config.report_only is True
    assert config.adult_health.years_after_end == 10
    assert config.mental_health.years_after_end == 20  # unspecified: the default
    assert config.child.until_birthday_if_17_at_end == 25  # equal to until_birthday is allowed


def errors_of(caught: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str, str]]:
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in caught.value.errors()]


def test_the_17_birthday_may_not_be_before_the_childs_birthday() -> None:
    with pytest.raises(ValidationError) as caught:
        RetentionConfig(child=UntilBirthday(until_birthday=25, until_birthday_if_17_at_end=24))
    [(_, message)] = errors_of(caught)
    assert "until_birthday_if_17_at_end must not be before child.until_birthday" in message


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        RetentionConfig(timezone="Europe/Atlantis")
    [(where, message)] = errors_of(caught)
    assert where == "timezone"
    assert "unknown time zone 'Europe/Atlantis'" in message


@pytest.mark.parametrize("years", [0, -1, 101])
def test_years_after_end_must_be_between_1_and_100(years: int) -> None:
    with pytest.raises(ValidationError) as caught:
        YearsAfterEnd(years_after_end=years)
    [(where, _)] = errors_of(caught)
    assert where == "years_after_end"


@pytest.mark.parametrize(
    "child",
    [
        {"until_birthday": 17, "until_birthday_if_17_at_end": 26},
        {"until_birthday": 25, "until_birthday_if_17_at_end": 17},
        {"until_birthday": 101, "until_birthday_if_17_at_end": 101},
    ],
)
def test_a_childs_birthday_must_be_an_adult_one(child: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        UntilBirthday.model_validate(child)


def test_unknown_retention_settings_are_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        RetentionConfig.model_validate({"adult_health": {"years_after_end": 8, "months_after_end": 3}})
    [(where, _)] = errors_of(caught)
    assert where == "adult_health.months_after_end"


def test_the_shipped_config_keeps_the_documented_defaults() -> None:
    retention = load_config(SHIPPED_CONFIG).retention
    assert retention == RetentionConfig()
    assert retention.adult_health.years_after_end == 8
    assert retention.mental_health.years_after_end == 20
    assert retention.child.until_birthday == 25
    assert retention.child.until_birthday_if_17_at_end == 26
    assert retention.run_at == time(2, 30)
    assert retention.timezone == "Europe/London"
    assert retention.report_only is False


def shipped_with_retention(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the shipped config with one line of its [retention] section changed."""
    text = SHIPPED_CONFIG.read_text()
    head, marker, retention = text.partition("\n[retention]\n")
    assert marker, "the shipped config has a [retention] section"
    assert retention.count(old) == 1, f"{old!r} appears once in [retention]"
    path = tmp_path / "pathway.toml"
    path.write_text(head + marker + retention.replace(old, new))
    return path


def test_a_changed_toml_retention_section_is_loaded(tmp_path: Path) -> None:
    path = shipped_with_retention(tmp_path, "years_after_end = 20", "years_after_end = 25")
    retention = load_config(path).retention
    assert retention.mental_health.years_after_end == 25
    assert retention.adult_health.years_after_end == 8


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("years_after_end = 8", "years_after_end = 0", "retention.adult_health.years_after_end"),
        ("years_after_end = 20", 'years_after_end = "twenty"', "retention.mental_health.years_after_end"),
        ("until_birthday = 25", "until_birthday = 12", "retention.child.until_birthday"),
        ('timezone = "Europe/London"', 'timezone = "Europe/Londres"', "retention.timezone"),
        ("report_only = false", 'report_only = "perhaps"', "retention.report_only"),
        ("run_at = 02:30:00", 'run_at = "half past two"', "retention.run_at"),
    ],
)
def test_a_bad_toml_retention_value_names_the_field(tmp_path: Path, old: str, new: str, field: str) -> None:
    path = shipped_with_retention(tmp_path, old, new)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert "is not valid" in message
    assert field in message


def test_a_toml_17_birthday_before_the_childs_is_refused(tmp_path: Path) -> None:
    path = shipped_with_retention(tmp_path, "until_birthday_if_17_at_end = 26", "until_birthday_if_17_at_end = 24")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "until_birthday_if_17_at_end must not be before child.until_birthday" in str(caught.value)


# --- properties -------------------------------------------------------------------------------------------------

closures = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2060, 12, 31, 23, 59), timezones=st.just(UTC)
)
births = st.dates(min_value=date(1920, 1, 1), max_value=date(2055, 12, 31))
mental_health_screenings = st.one_of(
    st.none(), st.lists(st.sampled_from(VulnerabilityDomain), max_size=3).map(lambda ds: screening(*ds))
)


def reached(day: date, year: int, month: int, dom: int) -> bool:
    """Whether `day` is on or after (year, month, dom); a missing 29 Feb is passed on 1 March."""
    return (day.year, day.month, day.day) >= (year, month, dom)


@given(
    closed=closures,
    born=st.one_of(st.none(), births),
    band=st.sampled_from([AgeBand.ADULT, AgeBand.CHILD, None]),
    found=mental_health_screenings,
)
def test_an_adult_record_is_never_dated_before_its_eighth_anniversary(
    closed: datetime, born: date | None, band: AgeBand | None, found: ScreeningOutcome | None
) -> None:
    ended = closed.astimezone(LONDON).date()
    retention = retention_of(closed_case(closed, age_band=band, screening=found), born, DEFAULTS)
    if retention.keep_until is None:
        # Only an undated child's record: kept for good, pending review.
        assert band is AgeBand.CHILD and born is None
        assert retention.review_reason is not None
        assert not retention.expired_on(date.max)
        return
    keep_until = retention.keep_until
    assert retention.review_reason is None
    assert not retention.expired_on(keep_until - timedelta(days=1))
    assert retention.expired_on(keep_until)
    # Never shredded before eight years have passed for an adult (18 or over at the end, or of
    # unknown age in a case not opened as a child's).
    adult = reached(ended, born.year + 18, born.month, born.day) if born is not None else band is not AgeBand.CHILD
    if adult:
        assert RecordClass.ADULT_HEALTH in retention.record_classes
        assert reached(keep_until, ended.year + 8, ended.month, ended.day)
    else:
        assert RecordClass.CHILD in retention.record_classes
        assert born is not None
        assert reached(keep_until, born.year + 25, born.month, born.day)
    assert keep_until > ended


@given(closed=closures, born=st.one_of(st.none(), births))
def test_a_plain_adult_record_ends_on_the_first_day_of_the_ninth_year(closed: datetime, born: date | None) -> None:
    ended = closed.astimezone(LONDON).date()
    if born is not None and not reached(ended, born.year + 18, born.month, born.day):
        born = None  # under 18 at the end: not this property's case
    retention = retention_of(closed_case(closed, age_band=AgeBand.ADULT), born, DEFAULTS)
    assert retention.record_classes == (RecordClass.ADULT_HEALTH,)
    assert retention.keep_until is not None
    # The first day on which eight whole years have passed, and not one day later.
    assert reached(retention.keep_until, ended.year + 8, ended.month, ended.day)
    assert not reached(retention.keep_until - timedelta(days=1), ended.year + 8, ended.month, ended.day)
    assert not retention.expired_on(retention.keep_until - timedelta(days=1))


# A person's episodes are one record: kept from their last contact (issue 19).

EIGHT_YEARS_ON = Retention(record_classes=(RecordClass.ADULT_HEALTH,), keep_until=date(2030, 5, 1))
TWENTY_YEARS_ON = Retention(record_classes=(RecordClass.MENTAL_HEALTH,), keep_until=date(2044, 2, 1))
UNDATABLE = Retention(record_classes=(RecordClass.CHILD,), keep_until=None, review_reason="no date of birth")


def test_an_episode_alone_keeps_its_own_retention() -> None:
    assert with_other_episodes(EIGHT_YEARS_ON, []) == EIGHT_YEARS_ON


def test_an_episode_is_kept_as_long_as_the_persons_latest_episode() -> None:
    kept = with_other_episodes(EIGHT_YEARS_ON, [TWENTY_YEARS_ON])
    assert kept.keep_until == date(2044, 2, 1) and kept.record_classes == (RecordClass.ADULT_HEALTH,)
    assert with_other_episodes(TWENTY_YEARS_ON, [EIGHT_YEARS_ON]) == TWENTY_YEARS_ON  # later than the others


def test_an_open_or_undatable_episode_of_the_person_keeps_the_others_without_a_review() -> None:
    for other in (None, UNDATABLE):
        kept = with_other_episodes(EIGHT_YEARS_ON, [TWENTY_YEARS_ON, other])
        assert kept.keep_until is None and kept.review_reason is None
        assert not kept.expired_on(date(2100, 1, 1))
    assert with_other_episodes(UNDATABLE, [EIGHT_YEARS_ON]) == UNDATABLE  # still for review
