"""SLA arithmetic: service minutes only count while the service is open, in the site's time zone."""

from datetime import UTC, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.config import OperatingHours
from domain.sla import add_service_minutes

LONDON = ZoneInfo("Europe/London")
ALWAYS = OperatingHours()
OFFICE = OperatingHours(timezone="Europe/London", days=(0, 1, 2, 3, 4), opens=time(9), closes=time(17))


def london(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- around the clock ------------------------------------------------------------------------------


def test_always_open_is_plain_arithmetic() -> None:
    assert ALWAYS.always_open
    start = utc(2026, 3, 7, 23, 30)  # a Saturday night
    assert add_service_minutes(ALWAYS, start, 120) == utc(2026, 3, 8, 1, 30)
    assert add_service_minutes(ALWAYS, start, 0) == start


def test_always_open_answers_in_utc_whatever_the_input_zone() -> None:
    start = datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=5)))
    due = add_service_minutes(ALWAYS, start, 60)
    assert due.utcoffset() == timedelta(0)
    assert due == utc(2026, 6, 1, 8, 0)


def test_always_open_counts_elapsed_time_across_the_clock_change() -> None:
    # 24 service hours from Saturday noon BST are 24 real hours: Sunday 11:00 GMT on the wall clock.
    start = london(2026, 10, 24, 12, 0)
    due = add_service_minutes(ALWAYS, start, 24 * 60)
    assert due == utc(2026, 10, 25, 11, 0)
    assert due - start == timedelta(hours=24)  # aware subtraction: real elapsed time
    assert due.astimezone(LONDON).hour == 11  # not the 12:00 a wall-clock day would give


# --- weekdays 09:00-17:00, Europe/London ---------------------------------------------------------------


def test_within_one_working_day() -> None:
    start = london(2026, 6, 2, 10, 15)  # Tuesday, BST
    assert add_service_minutes(OFFICE, start, 90) == london(2026, 6, 2, 11, 45)
    assert add_service_minutes(OFFICE, start, 90).tzinfo is UTC


def test_ending_exactly_at_closing_time_stays_on_that_day() -> None:
    assert add_service_minutes(OFFICE, london(2026, 6, 2, 16, 0), 60) == london(2026, 6, 2, 17, 0)


def test_across_a_night() -> None:
    # Tuesday 16:30: 30 minutes today, 30 more from Wednesday's opening.
    assert add_service_minutes(OFFICE, london(2026, 6, 2, 16, 30), 60) == london(2026, 6, 3, 9, 30)


def test_starting_before_opening_or_after_closing() -> None:
    assert add_service_minutes(OFFICE, london(2026, 6, 2, 6, 0), 30) == london(2026, 6, 2, 9, 30)
    assert add_service_minutes(OFFICE, london(2026, 6, 2, 21, 0), 30) == london(2026, 6, 3, 9, 30)


def test_across_a_weekend() -> None:
    # Friday 16:00: one hour on Friday, the second on Monday.
    assert add_service_minutes(OFFICE, london(2026, 6, 5, 16, 0), 120) == london(2026, 6, 8, 10, 0)
    # Starting on a Saturday the clock does not run until Monday's opening.
    assert add_service_minutes(OFFICE, london(2026, 6, 6, 11, 0), 45) == london(2026, 6, 8, 9, 45)


def test_a_day_of_service_spans_three_working_days() -> None:
    # 24 hours of 8-hour days: Monday, Tuesday and Wednesday, due at Wednesday's close.
    assert add_service_minutes(OFFICE, london(2026, 6, 1, 9, 0), 24 * 60) == london(2026, 6, 3, 17, 0)
    # Started on Thursday it runs over the weekend.
    assert add_service_minutes(OFFICE, london(2026, 6, 4, 9, 0), 24 * 60) == london(2026, 6, 8, 17, 0)


def test_across_the_autumn_clock_change() -> None:
    # Friday 23 October 2026 is BST (UTC+1); Monday 26 October is GMT (UTC+0).
    start = london(2026, 10, 23, 16, 0)
    assert start == utc(2026, 10, 23, 15, 0)
    due = add_service_minutes(OFFICE, start, 120)
    assert due == utc(2026, 10, 26, 10, 0)
    assert due.astimezone(LONDON) == london(2026, 10, 26, 10, 0)
    # The naive answer (keep the UTC offset of the start) would be an hour early.
    assert due != utc(2026, 10, 26, 9, 0)


def test_across_the_spring_clock_change() -> None:
    # Friday 27 March 2026 is GMT; Monday 30 March is BST, so 09:30 there is 08:30 UTC.
    due = add_service_minutes(OFFICE, london(2026, 3, 27, 16, 30), 60)
    assert due == utc(2026, 3, 30, 8, 30)


def test_whole_days_on_some_weekdays_only() -> None:
    weekdays = OperatingHours(timezone="Europe/London", days=(0, 1, 2, 3, 4))
    assert not weekdays.always_open
    # Saturday noon: nothing counts until Monday 00:00 London time.
    assert add_service_minutes(weekdays, london(2026, 6, 6, 12, 0), 60) == london(2026, 6, 8, 1, 0)
    # Over the autumn change the clock stops Friday midnight BST and restarts Monday midnight GMT.
    assert add_service_minutes(weekdays, london(2026, 10, 23, 23, 0), 120) == london(2026, 10, 26, 1, 0)


def test_an_other_time_zone_is_honoured() -> None:
    new_york = OperatingHours(timezone="America/New_York", opens=time(9), closes=time(17))
    start = utc(2026, 6, 2, 12, 0)  # 08:00 in New York (EDT, UTC-4)
    assert add_service_minutes(new_york, start, 30) == utc(2026, 6, 2, 13, 30)


def test_an_impossibly_long_sla_is_an_error() -> None:
    with pytest.raises(ValueError, match="ten years"):
        add_service_minutes(OFFICE, london(2026, 6, 1, 9, 0), 10_000_000)


# --- properties -------------------------------------------------------------------------------------------

starts = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))
minutes = st.integers(min_value=0, max_value=5 * 24 * 60)


@settings(max_examples=150, deadline=None)
@given(start=starts, first=minutes, second=minutes)
def test_service_minutes_add_up(start: datetime, first: int, second: int) -> None:
    one_go = add_service_minutes(OFFICE, start, first + second)
    in_two = add_service_minutes(OFFICE, add_service_minutes(OFFICE, start, first), second)
    assert one_go == in_two


@settings(max_examples=150, deadline=None)
@given(start=starts, amount=st.integers(min_value=1, max_value=5 * 24 * 60))
def test_due_times_fall_in_opening_hours_and_never_before_the_elapsed_minutes(start: datetime, amount: int) -> None:
    due = add_service_minutes(OFFICE, start, amount)
    local = due.astimezone(LONDON)
    assert local.weekday() < 5
    assert time(9) < local.time() <= time(17)
    assert due >= start + timedelta(minutes=amount)
    assert add_service_minutes(OFFICE, start, amount - 1) < due
