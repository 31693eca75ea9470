"""Working-day arithmetic on a site's calendar (weekends and bank holidays do not count)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.config import ReferralTimings, WorkingCalendar


def add_working_days(calendar: WorkingCalendar, start: datetime, days: int) -> datetime:
    """The same local time of day, `days` working days after `start` (UTC out)."""
    zone = ZoneInfo(calendar.timezone)
    local = start.astimezone(zone)
    day = local.date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if day.weekday() in calendar.working_days and day not in calendar.holidays:
            counted += 1
    return datetime.combine(day, local.time(), zone).astimezone(UTC)


def after(calendar: WorkingCalendar, timings: ReferralTimings, start: datetime, amount: int) -> datetime:
    """`amount` in the timings' unit after `start`: working days, or minutes (the demo site)."""
    if timings.unit == "minutes":
        return start + timedelta(minutes=amount)
    return add_working_days(calendar, start, amount)
