"""Volunteering jobs: forgotten check-outs closed at the shift's end, and the volunteer told."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from apscheduler.triggers.interval import IntervalTrigger

from bot.context import Services
from bot.db.volunteer import checkins, checkouts
from bot.db.volunteer.rules import format_hours
from bot.model import Reply
from bot.outbound import Notice
from handlers.volunteer import format as fmt

if TYPE_CHECKING:
    from scheduler.jobs import AddJob

#: Check-ins closed per transaction: short transactions, and a busy day is drained in a few.
BATCH = 500


def _rules(svc: Services) -> checkins.Rules:
    st = svc.settings
    return checkins.Rules(st.volunteer_checkin_opens, st.volunteer_half_hour_from, st.volunteer_full_hour_above, svc.tz)


async def close_forgotten(svc: Services) -> int:
    """Close every check-in whose shift has ended, at the shift's end; safe to run twice (a closed
    check-in is never closed again, and its ledger entry is unique). Each volunteer's notice is
    queued in the transaction that closes their check-in. Returns how many it closed."""
    now = datetime.fromtimestamp(svc.clock(), UTC)
    closed = 0
    while True:
        async with svc.unit() as unit:
            batch = await checkouts.close_forgotten(unit.session, now, rules=_rules(svc), limit=BATCH)
            for item in batch:
                unit.notify(_notice(svc, item))
        closed += len(batch)
        if len(batch) < BATCH:
            return closed


def _notice(svc: Services, item: checkouts.Forgotten) -> Notice:
    shift = item.shift
    reply = Reply(
        "volunteer.auto_checkout",
        {
            "title": shift.title,
            "day": fmt.day(svc.content, shift.starts_at.astimezone(svc.tz).date()),
            "end": fmt.clock(shift.ends_at, svc.tz),
            "hours": format_hours(item.hours),
        },
    )
    return Notice(
        item.channel,
        item.external_id,
        "volunteer_auto_checkout",
        reply,
        f"volunteer_auto_checkout:{item.checkin_id}",
        {"project": shift.title, "hours": format_hours(item.hours)},
    )


def schedule(add: AddJob, tz: ZoneInfo) -> None:
    # Every 5 minutes: a shift that ended is closed within 5 minutes, and each run is cheap (the
    # partial index on open check-ins).
    add("volunteer.close_forgotten", close_forgotten, IntervalTrigger(minutes=5, timezone=tz))
