"""Working-day arithmetic (domain/calendar.py): weekends, bank holidays, the clock changes, custom
working weeks, and `after` in either unit of ReferralTimings."""

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar import add_working_days, after
from domain.config import ReferralTimings, WorkingCalendar

LONDON = ZoneInfo("Europe/London")

# England and Wales bank holidays from the same package the loader uses (workers/settings.py).
BANK_HOLIDAYS_2026 = tuple(sorted(holidays.country_holidays("GB", subdiv="ENG", years=2026)))
BANK_HOLIDAY_CALENDAR = WorkingCalendar(holidays=BANK_HOLIDAYS_2026)
PLAIN_CALENDAR = WorkingCalendar()  # Monday to Friday, no holidays listed


def london(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def utc(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_the_2026_bank_holidays_these_tests_rely_on() -> None:
    """Fail clearly if the holidays package ever disagrees with the dates below."""
    assert {
        date(2026, 4, 3),  # Good Friday
        date(2026, 4, 6),  # Easter Monday
        date(2026, 12, 25),  # Christmas Day, a Friday
        date(2026, 12, 26),  # Boxing Day, a Saturday ...
        date(2026, 12, 28),  # ... so the Monday is the substitute day
    } <= set(BANK_HOLIDAYS_2026)
    assert date(2026, 12, 29) not in BANK_HOLIDAYS_2026


# --- weekends --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (utc(2026, 3, 2), 1, utc(2026, 3, 3)),  # Monday -> Tuesday
        (utc(2026, 3, 2), 2, utc(2026, 3, 4)),  # Monday -> Wednesday
        (utc(2026, 3, 2), 4, utc(2026, 3, 6)),  # Monday -> Friday
        (utc(2026, 3, 2), 5, utc(2026, 3, 9)),  # Monday -> next Monday
        (utc(2026, 3, 5), 2, utc(2026, 3, 9)),  # Thursday -> Monday
        (utc(2026, 3, 6), 1, utc(2026, 3, 9)),  # Friday -> Monday
        (utc(2026, 3, 6), 2, utc(2026, 3, 10)),  # Friday -> Tuesday
        (utc(2026, 3, 7), 1, utc(2026, 3, 9)),  # Saturday -> Monday
        (utc(2026, 3, 8), 1, utc(2026, 3, 9)),  # Sunday -> Monday
        (utc(2026, 3, 8), 2, utc(2026, 3, 10)),  # Sunday -> Tuesday
        (utc(2026, 3, 2), 10, utc(2026, 3, 16)),  # two whole weeks
    ],
)
def test_weekends_do_not_count(start: datetime, days: int, expected: datetime) -> None:
    assert add_working_days(PLAIN_CALENDAR, start, days) == expected


def test_the_time_of_day_is_kept_and_the_result_is_utc() -> None:
    start = utc(2026, 3, 6, 16, 47) + timedelta(seconds=12, microseconds=345)  # Friday, GMT

    result = add_working_days(PLAIN_CALENDAR, start, 1)

    assert result == utc(2026, 3, 9, 16, 47) + timedelta(seconds=12, microseconds=345)
    assert result.tzinfo is UTC


def test_zero_days_is_the_start_itself() -> None:
    saturday = london(2026, 7, 4, 23, 15)
    assert add_working_days(PLAIN_CALENDAR, saturday, 0) == saturday
    assert add_working_days(PLAIN_CALENDAR, saturday, 0).tzinfo is UTC


def test_days_are_counted_on_the_calendar_time_zone_not_utc() -> None:
    # 23:30 UTC on Friday 10 July is already Saturday 00:30 in London (BST): one working day later is
    # Monday 00:30 London time (Sunday 23:30 UTC), not Monday 23:30 UTC as counting in UTC would give.
    start = utc(2026, 7, 10, 23, 30)
    assert add_working_days(PLAIN_CALENDAR, start, 1) == london(2026, 7, 13, 0, 30)
    assert add_working_days(PLAIN_CALENDAR, start, 1) == utc(2026, 7, 12, 23, 30)
    # The same instant is Saturday 08:30 in Tokyo: Monday 08:30 there.
    tokyo = WorkingCalendar(timezone="Asia/Tokyo")
    assert add_working_days(tokyo, start, 1) == datetime(2026, 7, 13, 8, 30, tzinfo=ZoneInfo("Asia/Tokyo"))


def test_a_start_in_another_offset_is_read_in_the_calendar_zone() -> None:
    # 15:00 at UTC-05:00 on Friday is 20:00 in London (GMT): Monday 20:00 London.
    start = datetime(2026, 3, 6, 15, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert add_working_days(PLAIN_CALENDAR, start, 1) == london(2026, 3, 9, 20, 0)


# --- bank holidays ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # Easter 2026: Good Friday 3 April and Easter Monday 6 April.
        (london(2026, 4, 2), 1, london(2026, 4, 7)),  # Thursday -> Tuesday after Easter
        (london(2026, 4, 2), 2, london(2026, 4, 8)),
        (london(2026, 4, 1), 2, london(2026, 4, 7)),  # Wednesday: Thursday, then Tuesday
        (london(2026, 4, 3), 1, london(2026, 4, 7)),  # starting on Good Friday itself
        (london(2026, 4, 6), 1, london(2026, 4, 7)),  # starting on Easter Monday itself
        # Christmas 2026: Friday 25th, Boxing Day on Saturday with Monday 28th as its substitute.
        (london(2026, 12, 24), 1, london(2026, 12, 29)),  # Thursday -> Tuesday
        (london(2026, 12, 23), 2, london(2026, 12, 29)),
        (london(2026, 12, 24), 3, london(2026, 12, 31)),
        (london(2026, 12, 31), 1, london(2027, 1, 4)),  # New Year's Day 2027 is a Friday
        # May Day (4 May) and the spring bank holiday (25 May), both Mondays.
        (london(2026, 5, 1), 1, london(2026, 5, 5)),
        (london(2026, 5, 22), 1, london(2026, 5, 26)),
    ],
)
def test_bank_holidays_do_not_count(start: datetime, days: int, expected: datetime) -> None:
    calendar = WorkingCalendar(holidays=tuple(holidays.country_holidays("GB", subdiv="ENG", years=[2026, 2027])))
    assert add_working_days(calendar, start, days) == expected


def test_without_the_holidays_listed_they_are_ordinary_days() -> None:
    # WorkingCalendar alone only lists holidays; the loader adds bank holidays (see tests/workers).
    assert add_working_days(PLAIN_CALENDAR, london(2026, 4, 2), 1) == london(2026, 4, 3)
    assert add_working_days(PLAIN_CALENDAR, london(2026, 12, 24), 1) == london(2026, 12, 25)


def test_local_holidays_count_like_bank_holidays() -> None:
    calendar = WorkingCalendar(holidays=(date(2026, 3, 3), date(2026, 3, 4)), bank_holidays=False)
    assert add_working_days(calendar, london(2026, 3, 2), 1) == london(2026, 3, 5)


def test_a_holiday_on_a_non_working_day_changes_nothing() -> None:
    # Boxing Day 2026 (Saturday) is in the list as well as its Monday substitute; only the Monday matters.
    only_saturday = WorkingCalendar(holidays=(date(2026, 12, 26),))
    assert add_working_days(only_saturday, london(2026, 12, 24), 1) == london(2026, 12, 25)


# --- the clock changes -----------------------------------------------------------------------------


def test_across_the_start_of_british_summer_time() -> None:
    # Clocks go forward at 01:00 UTC on Sunday 29 March 2026.
    friday = london(2026, 3, 27, 10)
    assert friday.utcoffset() == timedelta(0)

    monday = add_working_days(BANK_HOLIDAY_CALENDAR, friday, 1)

    assert monday == utc(2026, 3, 30, 9)  # 10:00 BST
    assert monday.astimezone(LONDON).time() == time(10)
    assert monday.astimezone(LONDON).utcoffset() == timedelta(hours=1)
    assert monday - friday == timedelta(days=3) - timedelta(hours=1)


def test_across_the_end_of_british_summer_time() -> None:
    # Clocks go back at 01:00 UTC on Sunday 25 October 2026.
    friday = london(2026, 10, 23, 10)
    assert friday.utcoffset() == timedelta(hours=1)

    monday = add_working_days(BANK_HOLIDAY_CALENDAR, friday, 1)

    assert monday == utc(2026, 10, 26, 10)  # 10:00 GMT
    assert monday.astimezone(LONDON).time() == time(10)
    assert monday.astimezone(LONDON).utcoffset() == timedelta(0)
    assert monday - friday == timedelta(days=3) + timedelta(hours=1)


def test_late_evening_stays_on_its_local_day_across_the_change() -> None:
    # 23:30 BST on Friday 23 October is 22:30 UTC; Monday 23:30 GMT is 23:30 UTC (same local day).
    friday = london(2026, 10, 23, 23, 30)
    monday = add_working_days(PLAIN_CALENDAR, friday, 1)
    assert monday == utc(2026, 10, 26, 23, 30)
    assert monday.astimezone(LONDON).date() == date(2026, 10, 26)


# --- custom working weeks --------------------------------------------------------------------------


def test_a_six_day_week_counts_saturday() -> None:
    calendar = WorkingCalendar(working_days=(0, 1, 2, 3, 4, 5))
    assert add_working_days(calendar, london(2026, 3, 6), 1) == london(2026, 3, 7)  # Friday -> Saturday
    assert add_working_days(calendar, london(2026, 3, 6), 2) == london(2026, 3, 9)  # Sunday skipped


def test_a_seven_day_week_counts_every_day_but_holidays() -> None:
    every_day = WorkingCalendar(working_days=tuple(range(7)), holidays=BANK_HOLIDAYS_2026)
    assert add_working_days(every_day, london(2026, 3, 6), 2) == london(2026, 3, 8)
    assert add_working_days(every_day, london(2026, 4, 2), 1) == london(2026, 4, 4)  # Good Friday skipped
    assert add_working_days(every_day, london(2026, 4, 5), 1) == london(2026, 4, 7)  # Easter Monday skipped


def test_a_part_time_service_counts_only_its_days() -> None:
    tuesday_thursday = WorkingCalendar(working_days=(3, 1))  # stored sorted
    assert tuesday_thursday.working_days == (1, 3)
    assert add_working_days(tuesday_thursday, london(2026, 3, 2), 1) == london(2026, 3, 3)
    assert add_working_days(tuesday_thursday, london(2026, 3, 3), 1) == london(2026, 3, 5)
    assert add_working_days(tuesday_thursday, london(2026, 3, 3), 2) == london(2026, 3, 10)
    assert add_working_days(tuesday_thursday, london(2026, 3, 3), 3) == london(2026, 3, 12)


def test_a_weekend_only_calendar() -> None:
    weekends = WorkingCalendar(working_days=(5, 6))
    assert add_working_days(weekends, london(2026, 3, 2), 1) == london(2026, 3, 7)
    assert add_working_days(weekends, london(2026, 3, 2), 3) == london(2026, 3, 14)


@pytest.mark.parametrize("working_days", [(), (7,), (-1, 2)])
def test_working_days_must_be_weekday_numbers(working_days: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="working_days must be weekday numbers"):
        WorkingCalendar(working_days=working_days)


# --- after -----------------------------------------------------------------------------------------


def test_after_in_minutes_is_plain_elapsed_time() -> None:
    timings = ReferralTimings(chase_after=6, escalate_after=12, unit="minutes")
    friday_evening = london(2026, 4, 2, 23, 58)  # the night before Good Friday

    chase = after(BANK_HOLIDAY_CALENDAR, timings, friday_evening, timings.chase_after)
    escalate = after(BANK_HOLIDAY_CALENDAR, timings, friday_evening, timings.escalate_after)

    assert chase == friday_evening + timedelta(minutes=6)  # on the bank holiday: minutes ignore calendars
    assert escalate == friday_evening + timedelta(minutes=12)


def test_after_in_minutes_counts_real_minutes_across_the_clock_change() -> None:
    timings = ReferralTimings(chase_after=60, escalate_after=120, unit="minutes")
    start = utc(2026, 3, 29, 0, 30)  # 00:30 GMT, half an hour before the clocks go forward
    assert after(PLAIN_CALENDAR, timings, start, 60) == utc(2026, 3, 29, 1, 30)  # 02:30 BST


def test_after_in_working_days_uses_the_calendar() -> None:
    timings = ReferralTimings()  # chase after 2 working days, escalate after 4
    assert (timings.chase_after, timings.escalate_after, timings.unit) == (2, 4, "working_days")
    sent = london(2026, 4, 1, 15)  # Wednesday before Easter

    assert after(BANK_HOLIDAY_CALENDAR, timings, sent, timings.chase_after) == london(2026, 4, 7, 15)
    assert after(BANK_HOLIDAY_CALENDAR, timings, sent, timings.escalate_after) == london(2026, 4, 9, 15)


@pytest.mark.parametrize(
    ("chase", "escalate"),
    [(2, 2), (3, 2)],
)
def test_escalation_must_come_after_the_chase(chase: int, escalate: int) -> None:
    with pytest.raises(ValueError, match="escalate_after must come after chase_after"):
        ReferralTimings(chase_after=chase, escalate_after=escalate)


# --- properties ------------------------------------------------------------------------------------

calendars = st.builds(
    WorkingCalendar,
    working_days=st.sets(st.integers(0, 6), min_size=1).map(lambda days: tuple(sorted(days))),
    holidays=st.sets(st.dates(date(2025, 12, 1), date(2027, 3, 1)), max_size=40).map(lambda days: tuple(sorted(days))),
)
SPRING_FORWARD = (date(2026, 3, 29), date(2027, 3, 28))
starts = st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31), timezones=st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(calendar=calendars, start=starts, days=st.integers(0, 15))
def test_property_exactly_that_many_working_days_later(calendar: WorkingCalendar, start: datetime, days: int) -> None:
    result = add_working_days(calendar, start, days)

    assert result.tzinfo is UTC
    local_start = start.astimezone(LONDON)
    local_result = result.astimezone(LONDON)
    if days == 0:
        assert result == start
        return
    assert result > start
    # It lands on a working day that is not a holiday ...
    assert local_result.weekday() in calendar.working_days
    assert local_result.date() not in calendar.holidays
    # ... with exactly `days` working days after the start day, up to and including that day.
    counted = [
        local_start.date() + timedelta(days=n)
        for n in range(1, (local_result.date() - local_start.date()).days + 1)
        if (local_start.date() + timedelta(days=n)).weekday() in calendar.working_days
        and (local_start.date() + timedelta(days=n)) not in calendar.holidays
    ]
    assert len(counted) == days
    # The wall-clock time is kept, unless it does not exist that day (the hour the clocks skip).
    if local_result.date() in SPRING_FORWARD and local_start.time().hour == 1:
        assert local_result.time().hour == 2
    else:
        assert local_result.time() == local_start.time()
