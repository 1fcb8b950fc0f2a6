"""Care's job: forget what is kept only for a while (unanswered questions, closed inbox threads)."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.context import Services
from bot.db.care import forget
from scheduler.jobs import AddJob

log = logging.getLogger("longtuan.care")


async def forget_expired(svc: Services) -> int:
    """Delete unanswered questions older than LONGTUAN_UNANSWERED_DAYS and threads closed more than
    LONGTUAN_INBOX_DAYS ago; returns how many rows went. A second run finds nothing left."""
    settings = svc.settings
    async with svc.db.session() as s:
        questions, threads = await forget(
            s, svc.now(), unanswered_days=settings.unanswered_days, inbox_days=settings.inbox_days
        )
    log.info("care data forgotten", extra={"questions": questions, "threads": threads})
    return questions + threads


def schedule(add: AddJob, tz: ZoneInfo) -> None:
    # Nightly, when nobody is chatting; a missed night is covered by the next one.
    add("care.forget_expired", forget_expired, CronTrigger(hour=3, minute=40, timezone=tz))
