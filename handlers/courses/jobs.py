"""The night school's scheduled jobs: reminders (the evening before, two hours before) and no-shows.

Each is safe to run twice: a reminder is claimed in ``course_reminders`` in the transaction that
queues it (with the outbox; without, it is sent once the claim has committed), and a no-show is
a status change from ``confirmed``, which happens once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

# APScheduler 3 ships no type information (no py.typed).
from apscheduler.triggers.cron import CronTrigger

from bot.context import Services, Unit
from bot.db.courses import attendance, reminders
from bot.db.courses.reminders import Due
from bot.model import Reply
from bot.outbound import Notice
from handlers.courses import format as fmt
from handlers.courses.reminding import EVENING_HOUR, SOON_EVERY_MINUTES
from scheduler.jobs import AddJob

log = logging.getLogger("longtuan.courses.jobs")


async def remind_day_before(svc: Services) -> int:
    """Tomorrow's confirmed attendees, each told once; returns how many notices went out."""
    local = svc.local_now()
    tomorrow = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    now = datetime.fromtimestamp(svc.now(), UTC)
    async with svc.unit() as unit:
        due = await reminders.claim(unit.session, "day", tomorrow, tomorrow + timedelta(days=1), now)
        _tell(svc, unit, due, "day")
    return _counted(unit, due)


async def remind_soon(svc: Services) -> int:
    """Confirmed attendees of classes starting within LONGTUAN_COURSES_REMIND_BEFORE, each told once."""
    now = datetime.fromtimestamp(svc.now(), UTC)
    # A class exactly two hours away is due now (the range's end is exclusive).
    until = now + timedelta(seconds=svc.settings.courses_remind_before + 1)
    async with svc.unit() as unit:
        due = await reminders.claim(unit.session, "soon", now, until, now)
        _tell(svc, unit, due, "soon")
    return _counted(unit, due)


async def mark_no_shows(svc: Services) -> int:
    """Seats of ended classes nobody checked in to become no-shows; returns how many."""
    now = datetime.fromtimestamp(svc.now(), UTC)
    async with svc.db.session() as s:
        return await attendance.mark_no_shows(s, now)


def _tell(svc: Services, unit: Unit, due: list[Due], kind: str) -> None:
    for d in due:
        when = fmt.when(d.starts_at, d.ends_at, svc.tz)
        params = {"title": d.title, "when": when, "venue": d.venue}
        reply = Reply("courses.reminder_day", params) if kind == "day" else Reply("courses.reminder_soon", params)
        unit.notify(
            Notice(
                d.channel,
                d.external_id,
                "class_reminder",
                reply,
                f"class_reminder:{kind}:{d.class_id}:{d.signup_id}",
                {"class": d.title, "time": when, "venue": d.venue},
            )
        )


def _counted(unit: Unit, due: list[Due]) -> int:
    for d, result in zip(due, unit.results, strict=True):
        if not result.ok:
            log.info("class reminder not sent", extra={"signup": d.signup_id, "status": result.status.value})
    return unit.sent


def schedule(add: AddJob, tz: ZoneInfo) -> None:
    add("courses.remind_day_before", remind_day_before, CronTrigger(hour=EVENING_HOUR, minute=0, timezone=tz))
    add("courses.remind_soon", remind_soon, CronTrigger(minute=f"*/{SOON_EVERY_MINUTES}", timezone=tz))
    add("courses.no_shows", mark_no_shows, CronTrigger(minute="5,35", timezone=tz))
