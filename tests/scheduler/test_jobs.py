"""Scheduler jobs called directly with a JobContext on the fake WeChat API; then the process itself.

Jobs run with a fixed clock and are awaited, never left to a timer; the one test that starts
``python -m scheduler`` waits for the work its start-up jobs do, then stops it with SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

# APScheduler 3 ships no type information (no py.typed).
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.channels.wechat.token import FallbackTokenStore, RedisTokenStore
from bot.content import load_content
from bot.outbox.jobs import DAILY_ROLLUP, START_DUE
from bot.settings import Settings
from scheduler.__main__ import RunningJobs, new_scheduler
from scheduler.context import JobContext
from scheduler.jobs import (
    EXPIRE_FLOWS,
    PUSH_MENU,
    REFRESH_TOKEN,
    RENEW_BELOW,
    push_menu,
    refresh_wechat_token,
    schedule,
)
from tests.conftest import APP_ID, PG_URL, REDIS_URL, SECRET, make_settings
from tests.fakes.wechat_api import TOKEN_TTL, FakeWeChatAPI

ROOT = Path(__file__).resolve().parent.parent.parent
NOW = 1_700_000_000.0
SHANGHAI = ZoneInfo("Asia/Shanghai")
MENU_PATH = "/cgi-bin/menu/create"


def fixed_clock() -> float:
    return NOW


@pytest.fixture
def settings(redis_prefix: str, fake_wechat: FakeWeChatAPI) -> Settings:
    return make_settings(redis_prefix, fake_wechat.base_url)


@pytest.fixture
async def ctx(settings: Settings) -> AsyncIterator[JobContext]:
    async with JobContext.open(settings, clock=fixed_clock) as ctx:
        yield ctx


def shared_store(ctx: JobContext) -> RedisTokenStore:
    """The Redis store behind the process-local fallback: where every worker reads the token."""
    assert isinstance(ctx.tokens, FallbackTokenStore) and isinstance(ctx.tokens.primary, RedisTokenStore)
    return ctx.tokens.primary


async def cached_token(ctx: JobContext) -> tuple[str | None, int]:
    assert ctx.redis is not None
    store = shared_store(ctx)
    return await store.get(), int(await ctx.redis.ttl(store.key))


def events(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("longtuan.scheduler")]


# refresh_wechat_token


async def test_refresh_fetches_once_then_is_a_no_op_while_cached(
    ctx: JobContext, fake_wechat: FakeWeChatAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await refresh_wechat_token(ctx)
    token, ttl = await cached_token(ctx)
    assert fake_wechat.token_requests == 1
    assert token in fake_wechat.current_tokens, "the cached token is one WeChat accepts"
    assert ttl > RENEW_BELOW
    assert ctx.api.token_fetched_at == NOW, "the client stamps fetches with the context's clock"

    await refresh_wechat_token(ctx)
    await refresh_wechat_token(ctx)
    assert fake_wechat.token_requests == 1
    assert (await cached_token(ctx))[0] == token
    assert events(caplog) == ["wechat token fetched", "wechat token still cached", "wechat token still cached"]
    assert token is not None and token not in caplog.text and SECRET not in caplog.text


async def test_refresh_renews_a_token_that_would_lapse_before_the_next_run(
    ctx: JobContext, fake_wechat: FakeWeChatAPI
) -> None:
    await refresh_wechat_token(ctx)
    old, _ = await cached_token(ctx)
    assert ctx.redis is not None
    await ctx.redis.expire(shared_store(ctx).key, RENEW_BELOW - 60)

    await refresh_wechat_token(ctx)
    new, ttl = await cached_token(ctx)
    assert fake_wechat.token_requests == 2
    assert new is not None and new != old
    assert ttl > RENEW_BELOW, "the fresh token outlives the next run"
    assert ttl <= TOKEN_TTL


async def test_refresh_without_redis_keeps_the_token_in_process(redis_prefix: str, fake_wechat: FakeWeChatAPI) -> None:
    settings = make_settings(redis_prefix, fake_wechat.base_url, redis_url=None)
    async with JobContext.open(settings, clock=fixed_clock) as ctx:
        assert ctx.redis is None
        await refresh_wechat_token(ctx)
        await refresh_wechat_token(ctx)
    assert fake_wechat.token_requests == 1


async def test_refresh_logs_a_refusal_and_returns(
    redis_prefix: str, fake_wechat: FakeWeChatAPI, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(redis_prefix, fake_wechat.base_url, wechat_app_secret="a-wrong-secret-1234")
    async with JobContext.open(settings, clock=fixed_clock) as ctx:
        await refresh_wechat_token(ctx)
    [record] = [r for r in caplog.records if r.getMessage() == "wechat token refresh failed"]
    assert record.levelno == logging.WARNING
    assert getattr(record, "errcode", None) == 40125
    assert "a-wrong-secret-1234" not in caplog.text


# push_menu


async def test_push_menu_sends_menu_toml_and_wechat_accepts_it(
    ctx: JobContext, fake_wechat: FakeWeChatAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await push_menu(ctx)
    assert fake_wechat.menu == load_content().menu
    assert (MENU_PATH, "ok") in fake_wechat.calls
    names = [button["name"] for button in fake_wechat.menu["button"]]
    assert names == ["青年服务", "龙岗青年", "我的"], "Chinese names arrive as UTF-8, not \\u escapes"
    assert "wechat menu pushed" in events(caplog)

    await push_menu(ctx)  # menu/create replaces the menu: a second run is harmless
    assert fake_wechat.menu == load_content().menu
    assert fake_wechat.token_requests == 1


async def test_push_menu_logs_a_rejected_menu_as_an_error(
    ctx: JobContext, fake_wechat: FakeWeChatAPI, caplog: pytest.LogCaptureFixture
) -> None:
    fake_wechat.fail_next(MENU_PATH, 40018)  # invalid button name size
    await push_menu(ctx)
    assert fake_wechat.menu is None
    [record] = [r for r in caplog.records if r.getMessage() == "wechat menu push failed"]
    assert record.levelno == logging.ERROR
    assert getattr(record, "errcode", None) == 40018


# schedule


async def test_schedule_registers_the_jobs_under_stable_ids_in_shanghai_time(ctx: JobContext) -> None:
    settings = ctx.settings.model_copy(update={"wechat_push_menu": True})
    scheduler = new_scheduler(settings)
    assert schedule(scheduler, ctx, settings) == [REFRESH_TOKEN, PUSH_MENU]

    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert scheduler.timezone == SHANGHAI
    assert set(jobs) == {REFRESH_TOKEN, PUSH_MENU}
    refresh, menu = jobs[REFRESH_TOKEN], jobs[PUSH_MENU]
    assert refresh.func is refresh_wechat_token and menu.func is push_menu
    assert isinstance(refresh.trigger, IntervalTrigger) and refresh.trigger.timezone == SHANGHAI
    assert refresh.trigger.interval.total_seconds() == 30 * 60
    assert refresh.next_run_time is not None, "the token is warmed at start-up, not in 30 minutes"
    assert isinstance(menu.trigger, DateTrigger) and menu.trigger.run_date.utcoffset().total_seconds() == 8 * 3600
    for job in jobs.values():
        assert job.args == (ctx,)
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 300)


async def test_schedule_twice_keeps_one_job_per_id(ctx: JobContext) -> None:
    settings = ctx.settings.model_copy(update={"wechat_push_menu": True})
    scheduler = new_scheduler(settings)
    schedule(scheduler, ctx, settings)
    schedule(scheduler, ctx, settings)
    scheduler.start(paused=True)  # moves pending jobs into the store, where replace_existing applies
    try:
        assert sorted(job.id for job in scheduler.get_jobs()) == sorted([REFRESH_TOKEN, PUSH_MENU])
    finally:
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the loop's next turn


async def test_schedule_without_redis_or_menu_flag_adds_nothing(redis_prefix: str, fake_wechat: FakeWeChatAPI) -> None:
    settings = make_settings(redis_prefix, fake_wechat.base_url, redis_url=None)
    async with JobContext.open(settings, clock=fixed_clock) as ctx:
        scheduler = new_scheduler(settings)
        assert schedule(scheduler, ctx, settings) == []
        assert scheduler.get_jobs() == []


async def test_running_jobs_lets_a_stop_wait_for_a_job_in_flight(settings: Settings) -> None:
    release, entered = asyncio.Event(), asyncio.Event()

    async def slow_job() -> None:
        entered.set()
        await release.wait()

    scheduler = new_scheduler(settings)
    running = RunningJobs()
    scheduler.add_listener(running, RunningJobs.MASK)
    scheduler.add_job(slow_job, DateTrigger(timezone=SHANGHAI), id="test.slow")  # due now
    scheduler.start()
    try:
        await asyncio.wait_for(entered.wait(), 5)
        scheduler.pause()
        assert running.count == 1 and not running.idle.is_set()
        release.set()
        await asyncio.wait_for(running.idle.wait(), 5)
        assert running.count == 0
    finally:
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)


# the process


def process_env(fake: FakeWeChatAPI, redis_prefix: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGTUAN_")}
    env.update(
        PYTHONPATH=str(ROOT),
        LONGTUAN_LOG_JSON="true",
        LONGTUAN_WECHAT_APP_ID=APP_ID,
        LONGTUAN_WECHAT_APP_SECRET=SECRET,
        LONGTUAN_WECHAT_API_BASE=fake.base_url,
        LONGTUAN_REDIS_URL=REDIS_URL,
        LONGTUAN_REDIS_PREFIX=redis_prefix,
        LONGTUAN_DATABASE_URL=PG_URL,
    )
    env.update(extra)
    return env


#: The two ways to start it: ``python -m scheduler`` and ``longtuan scheduler``.
COMMANDS = {"python -m scheduler": ("-m", "scheduler"), "longtuan scheduler": ("-m", "bot.cli", "scheduler")}


async def start_scheduler(
    tmp: Path, env: dict[str, str], command: str = "python -m scheduler"
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *COMMANDS[command],
        cwd=tmp,  # no developer's .env is read
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def json_lines(stderr: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]


@pytest.mark.parametrize("command", list(COMMANDS))
async def test_the_scheduler_runs_its_start_up_jobs_and_stops_cleanly_on_sigterm(
    tmp_path: Path, fake_wechat: FakeWeChatAPI, redis_prefix: str, command: str
) -> None:
    env = process_env(fake_wechat, redis_prefix, LONGTUAN_WECHAT_PUSH_MENU="true")
    proc = await start_scheduler(tmp_path, env, command)
    try:
        # The fake runs on this loop, so wait by sleeping; stop as soon as the start-up jobs are done.
        for _ in range(200):
            if fake_wechat.menu is not None or proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # a moment more, idle, to show it keeps running
        assert proc.returncode is None, "the scheduler exited by itself"
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), 15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()

    assert proc.returncode == 0, stderr.decode()
    lines = json_lines(stderr)
    [started] = [line for line in lines if line["event"] == "scheduler started"]
    # The flow clean-up and the programmes' jobs (scheduler.jobs.PROGRAMMES) follow the channel's own.
    assert started["jobs"][:3] == [REFRESH_TOKEN, PUSH_MENU, EXPIRE_FLOWS]
    assert {START_DUE, DAILY_ROLLUP} <= set(started["jobs"])
    assert started["timezone"] == "Asia/Shanghai"
    assert "study.reminders" in started["jobs"]
    assert "volunteer.close_forgotten" in started["jobs"]
    assert "courses.remind_day_before" in started["jobs"]
    assert [line["event"] for line in lines][-1] == "scheduler stopped"
    assert not [line for line in lines if line["level"] == "ERROR"]
    assert fake_wechat.menu == load_content().menu
    assert fake_wechat.token_requests == 1, "both start-up jobs share one token fetch"
    text = stderr.decode()
    assert SECRET not in text and not any(token in text for token in fake_wechat.tokens)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("LONGTUAN_DATABASE_URL", "mysql://db/longtuan"), ("LONGTUAN_TIMEZONE", "Asia/Longgang")],
)
async def test_python_m_scheduler_refuses_a_bad_setting_by_name(
    tmp_path: Path, fake_wechat: FakeWeChatAPI, redis_prefix: str, variable: str, value: str
) -> None:
    proc = await start_scheduler(tmp_path, process_env(fake_wechat, redis_prefix, **{variable: value}))
    _, stderr = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 2
    assert variable in stderr.decode() and "Traceback" not in stderr.decode()
