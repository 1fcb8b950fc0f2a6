"""The delivery engine's scheduled jobs: start due campaigns (and close finished ones), the daily roll-up.

Both are safe to run twice: a campaign is started under its row lock only from ``approved``, and
the roll-up rewrites whole days from the ledger.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.context import Services
from bot.db.delivery.outbox import roll_up
from bot.outbox.campaigns import Campaigns, bulk_database
from bot.outbox.metrics import day_start
from scheduler.jobs import AddJob

START_DUE = "campaigns.start_due"
DAILY_ROLLUP = "delivery.daily_rollup"

DAY = 86400


async def start_due_campaigns(svc: Services) -> int:
    # Its own handle: starting a template campaign moves up to every follower's row in one statement,
    # longer than the message path's statement limit.
    db = bulk_database(svc.settings.database_url)
    try:
        campaigns = Campaigns(svc.settings, db, svc.clock)
        started = await campaigns.start_due()
        await campaigns.finish_done()
    finally:
        await db.close()
    return len(started)


async def daily_rollup(svc: Services) -> int:
    """Yesterday (now complete) and today so far, in local days."""
    today = day_start(svc.now(), svc.tz)
    async with svc.db.session() as s:
        return await roll_up(s, today - DAY, today + DAY, svc.settings.timezone)


def schedule(add: AddJob, tz: ZoneInfo) -> None:
    add(START_DUE, start_due_campaigns, IntervalTrigger(minutes=1, timezone=tz))
    add(DAILY_ROLLUP, daily_rollup, CronTrigger(hour=0, minute=10, timezone=tz))
