"""The one scheduler: its Redis lock (in process and with two real processes) and the delivery jobs."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import text

from bot.context import Services
from bot.outbox.campaigns import Campaigns
from bot.outbox.jobs import daily_rollup, start_due_campaigns
from scheduler.lock import SchedulerLock
from tests.conftest import REDIS_URL, FixedClock, make_settings
from tests.delivery import processes
from tests.delivery.conftest import add_user
from tests.fakes.wechat_api import FakeWeChatAPI


async def test_a_second_holder_is_refused_until_the_first_lapses_then_the_first_stops(redis_prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    key = f"{redis_prefix}scheduler:lock"
    try:
        first, second = SchedulerLock(client, key, ttl=0.6), SchedulerLock(client, key, ttl=0.6)
        assert await first.acquire()
        assert not await second.acquire()
        lost = asyncio.Event()
        keeper = asyncio.create_task(first.keep(lost))
        await asyncio.sleep(0.5)  # two extensions: the lock outlives its first TTL
        assert await client.exists(key) and not await second.acquire()
        await client.delete(key)  # as if it had lapsed while its holder hung
        assert await second.acquire()
        await asyncio.wait_for(lost.wait(), 5)  # the first learns at its next extension
        await keeper
        await second.release()
        assert not await client.exists(key)
    finally:
        await client.aclose()


async def test_the_delivery_jobs_are_safe_to_run_twice(services: Services, clock: FixedClock) -> None:
    for n in range(3):
        await add_user(services.db, f"o-j{n}", clock() - 3600)
    campaigns = Campaigns(services.settings, services.db, clock)
    cid = await campaigns.create(name="定时", by="li", audience={"source": "all"}, text="早上好", at=clock() + 600)
    await campaigns.plan(cid)
    await campaigns.approve(cid, by="li")
    assert await campaigns.send(cid, by="li") == "approved"
    assert await start_due_campaigns(services) == 0
    clock.advance(600)
    assert await start_due_campaigns(services) == 1
    assert await start_due_campaigns(services) == 0
    async with services.db.session() as s:
        await s.execute(
            text("""
            INSERT INTO delivery_attempts (at, way, outcome, errcode, detail, recipients)
            VALUES (to_timestamp(:at), 'custom', 'sent', 0, '', 1), (to_timestamp(:at), 'mass', 'sent', 0, '', 400)
            """),
            {"at": clock()},  # the job's clock, not the server's: after 16:00 UTC it is tomorrow in Shanghai
        )
    assert await daily_rollup(services) == 2
    assert await daily_rollup(services) == 2
    async with services.db.session() as s:
        rows = (await s.execute(text("SELECT way, outcome, attempts, recipients FROM delivery_daily ORDER BY 1"))).all()
    assert [tuple(r) for r in rows] == [("custom", "sent", 1, 1), ("mass", "sent", 1, 400)]


async def _event(proc: asyncio.subprocess.Process, event: str, within: float = 20.0) -> dict[str, Any]:
    """Read the process's JSON log lines until one has ``event``."""
    assert proc.stderr is not None

    async def read() -> dict[str, Any]:
        assert proc.stderr is not None
        while line := await proc.stderr.readline():
            if line.startswith(b"{"):
                record: dict[str, Any] = json.loads(line)
                if record.get("event") == event:
                    return record
        raise AssertionError(f"the process ended before logging {event!r}")

    return await asyncio.wait_for(read(), within)


# Real processes, each importing the whole service: minutes on a loaded two-core machine, not seconds.
@pytest.mark.timeout(180)
async def test_a_second_scheduler_stands_by_and_takes_over_when_the_first_is_killed(
    redis_prefix: str, fake_wechat: FakeWeChatAPI, clean_db: None
) -> None:
    settings = make_settings(redis_prefix, fake_wechat.base_url, scheduler_lock_ttl=2.0)
    first = await processes.start(settings, "scheduler")
    second: asyncio.subprocess.Process | None = None
    try:
        await _event(first, "scheduler started")
        second = await processes.start(settings, "scheduler")
        await _event(second, "another scheduler holds the lock; standing by")
        os.kill(first.pid, signal.SIGKILL)
        await first.wait()
        started = await _event(second, "scheduler started")
        assert "campaigns.start_due" in started["jobs"]
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
        if second is not None:
            assert await processes.stop(second) == 0
