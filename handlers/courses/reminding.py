"""When the night school's reminders go out, and which of them a signup made now will still get."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

#: The evening reminder goes out at this local hour for the next day's classes.
EVENING_HOUR = 20
#: How often the two-hours-before reminder looks for classes (a reminder is at most this late).
SOON_EVERY_MINUTES = 10


def coming(starts_at: datetime, now: datetime, tz: ZoneInfo) -> tuple[bool, bool]:
    """(the evening-before reminder, the one shortly before) that a class starting at ``starts_at``
    still gets for someone booked at ``now``: the confirmation promises only those."""
    day_before = starts_at.astimezone(tz).date() - timedelta(days=1)
    evening = datetime(day_before.year, day_before.month, day_before.day, EVENING_HOUR, tzinfo=tz)
    return now < evening, starts_at - now > timedelta(minutes=SOON_EVERY_MINUTES)
