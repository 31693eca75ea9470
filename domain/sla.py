"""SLA arithmetic: due times that only count the service's operating hours."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.config import OperatingHours

# A site open on at least one weekday always finds an open window within a week; the bound only
# guards against a minute count so large it would need years of windows.
_MAX_DAYS_SCANNED = 3660


def add_service_minutes(hours: OperatingHours, start: datetime, minutes: int) -> datetime:
    """The instant `minutes` of open service time after `start` (both timezone-aware, UTC out)."""
    start = start.astimezone(UTC)
    if hours.always_open or minutes == 0:
        return start + timedelta(minutes=minutes)
    remaining = timedelta(minutes=minutes)
    zone = ZoneInfo(hours.timezone)
    cursor = start
    day = cursor.astimezone(zone).date()
    for _ in range(_MAX_DAYS_SCANNED):
        window = _window(hours, zone, day)
        day += timedelta(days=1)
        if window is None:
            continue
        opens, closes = window
        begin = max(opens, cursor)
        if begin >= closes:
            continue
        if begin + remaining <= closes:
            return begin + remaining
        remaining -= closes - begin
        cursor = closes
    raise ValueError("the SLA does not fit in the operating hours of the next ten years")


def _window(hours: OperatingHours, zone: ZoneInfo, day: date) -> tuple[datetime, datetime] | None:
    if day.weekday() not in hours.days:
        return None
    if hours.opens is None or hours.closes is None:
        opens = datetime.combine(day, datetime.min.time(), zone)
        closes = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
    else:
        opens = datetime.combine(day, hours.opens, zone)
        closes = datetime.combine(day, hours.closes, zone)
    return opens.astimezone(UTC), closes.astimezone(UTC)
