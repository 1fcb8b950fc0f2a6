"""Scheduled jobs: module-level coroutines taking a ``JobContext``, and ``schedule``, which times them.

Every job is safe to run twice and logs what it did; it never logs a token or a secret. Jobs
catch the failures they expect (WeChat errors, a backing service down), log them and return: the
next run, or the web process on demand, covers for a missed one.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

# APScheduler 3 ships no type information (no py.typed).
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from redis.exceptions import RedisError

from bot.channels.wechat.api import WeChatAPIError
from bot.context import Services
from bot.errors import Unavailable
from bot.gateway.flows import expire_flows
from bot.settings import Settings
from scheduler.context import JobContext

log = logging.getLogger("longtuan.scheduler.jobs")

Job = Callable[[JobContext], Awaitable[None]]
#: A programme's job: takes the same ``Services`` the web app has (a fixed clock in tests).
ServiceJob = Callable[[Services], Awaitable[object]]
AddJob = Callable[[str, ServiceJob, Any], None]

#: Modules with ``schedule(add: AddJob, tz: ZoneInfo) -> None``: each times its programme's jobs
#: (stable ids such as ``courses.reminders``). A job is safe to run twice.
PROGRAMMES: tuple[str, ...] = (
    "handlers.care.jobs",
    "handlers.courses.jobs",
    "handlers.volunteer.jobs",
    "handlers.study.jobs",
    "bot.outbox.jobs",
)

#: Stable job ids: ``replace_existing=True`` matches on them, and logs name jobs by them.
REFRESH_TOKEN = "wechat.refresh_token"
PUSH_MENU = "wechat.push_menu"
EXPIRE_FLOWS = "flows.expire"

TOKEN_REFRESH_MINUTES = 30
#: A cached token with less than this left would lapse before the next run (30 minutes on, plus
#: 5 for a late run), so that run renews it instead of leaving the next reply to fetch one.
RENEW_BELOW = (TOKEN_REFRESH_MINUTES + 5) * 60

#: Applied to every job. ``coalesce``: runs missed while the process was stopped or stalled are
#: done once, not once each. ``max_instances=1``: a slow run is never overlapped by the next.
#: ``misfire_grace_time``: a run more than 5 minutes late is skipped and logged as missed.
JOB_DEFAULTS: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}

#: What a job may meet that is not a bug: WeChat refusing or unreachable, the token cache down,
#: or the token refresh lock held too long by another process.
EXPECTED_FAILURES = (WeChatAPIError, RedisError, TimeoutError)


async def refresh_wechat_token(ctx: JobContext) -> None:
    """Keep a valid access token in the shared cache, so no late reply or campaign waits on a fetch.

    The cache drops a token ``TOKEN_REFRESH_MARGIN`` before WeChat's 7200 s; a token that would be
    dropped before the next run is renewed now. WeChat keeps the previous token valid for about five
    minutes after a new fetch, so web workers already holding it are not disturbed.
    """
    try:
        left = await _seconds_left(ctx)
        if left is not None and left < RENEW_BELOW:
            stale = await ctx.tokens.get()
            if stale:
                # Compare-and-delete: if another process stored a fresh token meanwhile, it stays.
                await ctx.tokens.invalidate(stale)
        cached = await ctx.tokens.get()
        # access_token() fetches under the shared lock with a double check: one fetch in the fleet.
        token = await ctx.api.access_token()
        left = await _seconds_left(ctx)
    except EXPECTED_FAILURES as exc:
        log.warning("wechat token refresh failed", extra=_failure(exc))
        return
    event = "wechat token still cached" if token == cached else "wechat token fetched"
    log.info(event, extra={"seconds_left": left})


async def push_menu(ctx: JobContext) -> None:
    """Make the account's custom menu content/menu.toml's; menu/create replaces it, so reruns are safe."""
    menu = ctx.content.menu
    try:
        await ctx.api.create_menu(menu)
    except EXPECTED_FAILURES as exc:
        # An error, not a warning: a rejected menu (names too long, 48001 no menu permission) needs a person.
        log.error("wechat menu push failed", extra=_failure(exc))
        return
    log.info("wechat menu pushed", extra={"buttons": len(menu.get("button", []))})


def schedule(
    scheduler: BaseScheduler, ctx: JobContext, settings: Settings, services: Services | None = None
) -> list[str]:
    """Register every job under its stable id and return the ids: the one place jobs are timed."""
    tz = ZoneInfo(settings.timezone)
    now = datetime.now(tz)
    ids: list[str] = []

    def add(job_id: str, job: Job, trigger: Any, **options: Any) -> None:
        scheduler.add_job(
            job, trigger, args=[ctx], id=job_id, name=job_id, replace_existing=True, **JOB_DEFAULTS, **options
        )
        ids.append(job_id)

    if settings.redis_url:
        # First run at start-up, so the cache is warm before anything needs it.
        add(
            REFRESH_TOKEN,
            refresh_wechat_token,
            IntervalTrigger(minutes=TOKEN_REFRESH_MINUTES, timezone=tz),
            next_run_time=now,
        )
    else:
        # An in-process token cache serves this process only; worse, every fetch here makes the web
        # process's token "not latest" five minutes later. Without Redis, the web fetches its own.
        log.info("wechat token refresh not scheduled: LONGTUAN_REDIS_URL is unset, nothing to share")
    if settings.wechat_push_menu:
        add(PUSH_MENU, push_menu, DateTrigger(run_date=now, timezone=tz))
    if services is not None:

        def add_service_job(job_id: str, job: ServiceJob, trigger: Any) -> None:
            scheduler.add_job(
                _logged(job_id, job),
                trigger,
                args=[services],
                id=job_id,
                name=job_id,
                replace_existing=True,
                **JOB_DEFAULTS,
            )
            ids.append(job_id)

        add_service_job(EXPIRE_FLOWS, expire_flows, IntervalTrigger(minutes=1, timezone=tz))
        for name in PROGRAMMES:
            importlib.import_module(name).schedule(add_service_job, tz)
    return ids


def _logged(job_id: str, job: ServiceJob) -> ServiceJob:
    """Run a programme job; an expected outage is a warning, anything else an error with its traceback."""

    async def run(services: Services) -> object:
        try:
            result = await job(services)
        except Unavailable as exc:
            log.warning("job postponed: a backing service is down", extra={"job": job_id, "error": str(exc)})
            return None
        except Exception:
            log.exception("job failed", extra={"job": job_id})
            return None
        log.info("job done", extra={"job": job_id, "result": str(result)[:200]})
        return result

    return run


async def _seconds_left(ctx: JobContext) -> int | None:
    """Seconds before the cached token is dropped; None if nothing is cached."""
    return await ctx.tokens.ttl()


def _failure(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, WeChatAPIError):
        # errmsg is redacted by the client: it never carries the secret or a token.
        return {"errcode": exc.errcode, "errmsg": exc.errmsg}
    # Redis and lock errors name a host or a key, never a password or a token.
    return {"error": f"{type(exc).__name__}: {exc}"}
