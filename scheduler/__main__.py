"""``python -m scheduler``: run the jobs of ``scheduler.jobs`` on APScheduler until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# APScheduler 3 ships no type information (no py.typed).
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.errors import ConfigError
from bot.logs import configure
from bot.services import open_services
from bot.settings import Settings, load_settings
from scheduler.context import JobContext
from scheduler.jobs import schedule
from scheduler.lock import SchedulerLock

log = logging.getLogger("longtuan.scheduler")

#: On SIGTERM, running jobs get this long to finish before they are cancelled: under the 10 s that
#: docker, compose and systemd's default stop wait before they send SIGKILL.
STOP_GRACE = 8.0


def new_scheduler(settings: Settings) -> AsyncIOScheduler:
    """An AsyncIOScheduler on the settings' time zone with the default in-memory job store.

    The in-memory store is the point: it belongs to this process alone (APScheduler 3 cannot share
    a job store between processes), and ``schedule`` rebuilds the timetable at every start.
    """
    return AsyncIOScheduler(timezone=ZoneInfo(settings.timezone))


class RunningJobs:
    """Counts jobs in flight from the scheduler's events, so a stop can wait for them to finish.

    Listeners run on the event loop: submissions from the scheduler's wake-up, completions from the
    executor's done-callbacks. With ``coalesce`` each submission ends in exactly one of executed,
    error (cancelled included) or missed.
    """

    MASK = EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED

    def __init__(self) -> None:
        self.count = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def __call__(self, event: Any) -> None:
        if event.code == EVENT_JOB_SUBMITTED:
            self.count += 1
            self.idle.clear()
            return
        self.count = max(0, self.count - 1)
        if self.count == 0:
            self.idle.set()


async def run(settings: Settings, stop: asyncio.Event) -> None:
    """Open the job context, schedule the jobs and run them until ``stop`` is set; then close all."""
    async with open_services(settings) as services:
        ctx = JobContext.of(services)
        lock: SchedulerLock | None = None
        lost = asyncio.Event()
        if ctx.redis is not None:
            lock = SchedulerLock(ctx.redis, f"{settings.redis_prefix}scheduler:lock", settings.scheduler_lock_ttl)
            if not await lock.wait(stop):
                log.info("scheduler stopped before it took the lock")
                return
        else:
            log.warning("no Redis: the one-scheduler lock is not taken; run exactly one scheduler")
        keeper = asyncio.create_task(lock.keep(lost)) if lock is not None else None
        scheduler = new_scheduler(settings)
        running = RunningJobs()
        scheduler.add_listener(running, RunningJobs.MASK)
        ids = schedule(scheduler, ctx, settings, services)
        scheduler.start()
        log.info("scheduler started", extra={"jobs": ids, "timezone": settings.timezone})
        ended = asyncio.create_task(stop.wait())
        await asyncio.wait([ended, asyncio.create_task(lost.wait())], return_when=asyncio.FIRST_COMPLETED)
        ended.cancel()

        # Order: no new runs, let running jobs finish (bounded), cancel the rest, then close the
        # context's clients (the ``async with``), which the jobs were using until now.
        log.info("scheduler stopping", extra={"running": running.count})
        scheduler.pause()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_GRACE):
                await running.idle.wait()
        if running.count:
            log.warning("jobs still running after the stop grace; cancelling", extra={"running": running.count})
        # AsyncIOScheduler.shutdown only schedules the shutdown on the loop: yield once so it runs
        # (cancelling what is left), then let the cancelled jobs unwind.
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await running.idle.wait()
        if keeper is not None and lock is not None:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            if not lost.is_set():
                await lock.release()  # the standby need not wait for the TTL
    log.info("scheduler stopped")
    if lost.is_set():
        raise SystemExit(3)


async def _serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run(settings, stop)


def main(settings: Settings | None = None) -> None:
    """Run until SIGTERM or SIGINT; ``settings`` from ``longtuan scheduler`` (else read here)."""
    if settings is None:
        try:
            settings = load_settings()
        except ConfigError as exc:
            print(f"scheduler: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        print(f"scheduler: LONGTUAN_TIMEZONE: unknown time zone {settings.timezone!r}", file=sys.stderr)
        raise SystemExit(2) from None
    configure(settings.log_level, settings.log_json)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C before the signal handlers are installed
        asyncio.run(_serve(settings))


if __name__ == "__main__":
    main()
