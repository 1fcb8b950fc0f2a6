"""The worker inside ``longtuan serve`` (LONGTUAN_WORKER_IN_SERVE): one process delivers what it
queues, with Redis or (a first run) without it; off, the app leaves the outbox to ``longtuan worker``."""

from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy import text

from bot.channels.wechat.simulator import text_xml
from bot.outbox.limiter import LocalLimiter, spacing
from bot.outbox.shared import LocalShared
from tests.conftest import FixedClock, GatewayFactory
from tests.gateway.support import CountingRouter, poll
from tests.harness import ACCOUNT


def _started(caplog: pytest.LogCaptureFixture) -> int:
    return sum(1 for r in caplog.records if r.name == "longtuan.worker" and r.getMessage() == "worker started")


async def test_serve_runs_one_worker_of_its_own_unless_told_not_to(
    make_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="longtuan.worker")
    await make_gateway(worker_in_serve=False)
    assert _started(caplog) == 0
    await make_gateway()
    assert _started(caplog) == 1
    await make_gateway(outbox=False)  # nothing to work: notices are sent at once
    assert _started(caplog) == 1


async def test_without_the_app_secret_no_worker_runs_and_notices_wait(
    make_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A demo on a laptop has no WeChat credentials: nothing could be sent, so nothing is tried."""
    caplog.set_level(logging.INFO)
    router = CountingRouter(lambda msg: 0.6)
    gw = await make_gateway(router=router, wechat_reply_deadline=0.3, wechat_app_secret="")
    assert _started(caplog) == 0
    assert any("no LONGTUAN_WECHAT_APP_SECRET" in r.getMessage() for r in caplog.records)
    answer = await gw.post(text_xml("o-demo", "慢慢来", account=ACCOUNT), "o-demo")
    assert answer.body == "success"

    async def queued() -> bool:
        async with gw.db.session() as s:
            return [r[0] for r in await s.execute(text("SELECT status FROM outbox"))] == ["pending"]

    assert await poll(queued, within=5.0), "the late reply was not kept in the outbox"
    assert gw.fake.sent == [] and gw.fake.token_requests == 0


async def test_without_redis_the_app_delivers_a_late_reply_through_its_own_worker(
    make_gateway: GatewayFactory,
) -> None:
    """A first run (``longtuan serve --demo``): no Redis, so the worker paces itself in memory."""
    router = CountingRouter(lambda msg: 0.6)
    gw = await make_gateway(router=router, wechat_reply_deadline=0.3, redis_url=None)
    answer = await gw.post(text_xml("o-first-run", "慢慢来", account=ACCOUNT), "o-first-run")
    assert answer.body == "success"

    async def rows() -> list[tuple[str, str, str]]:
        async with gw.db.session() as s:
            return [(r[0], r[1], r[2]) for r in await s.execute(text("SELECT purpose, status, way FROM outbox"))]

    async def sent() -> bool:
        return [status for _, status, _ in await rows()] == ["sent"]

    assert await poll(sent, within=5.0), "the late reply never left the outbox"
    assert await rows() == [("late_reply", "sent", "custom")]
    assert [m["touser"] for m in gw.fake.sent] == ["o-first-run"]


async def test_the_local_limiter_spaces_calls_at_the_rate() -> None:
    limiter = LocalLimiter({"api": 20.0})
    started = time.monotonic()
    for _ in range(10):
        await limiter.acquire("api")
    took = time.monotonic() - started
    # Ten slots 1/20 s apart (with the margin), less the catch-up a late sender may take at once.
    assert took >= 9 * spacing(20.0) / 1_000_000 - 0.15 - 0.01, took


async def test_local_pauses_and_counts_lapse_on_the_engines_clock(clock: FixedClock) -> None:
    shared = LocalShared(clock)
    await shared.pause("template", clock() + 600, ttl=60)
    assert await shared.paused(["template", "subscribe"]) == {"template": clock() + 600}
    assert [await shared.count("quota:template:d", ttl=30) for _ in range(3)] == [1, 2, 3]
    clock.advance(61)
    assert await shared.paused(["template"]) == {}
    assert await shared.count("quota:template:d", ttl=30) == 1
