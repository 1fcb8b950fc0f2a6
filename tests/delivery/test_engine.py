"""The engine against the fake platform: each way, each refusal of issue 11's table, the ledger."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.db import Database
from bot.outbox import worker
from bot.outbox.engine import Engine
from bot.outbox.shared import UNKNOWN_PAUSE
from tests.conftest import FixedClock
from tests.delivery.conftest import MakeEngine, add_user, ledger, notice, outbox, queue
from tests.fakes.wechat_api import FakeWeChatAPI
from tests.gateway.support import RedisServer

HOUR = 3600.0
TEMPLATE_PATH = "/cgi-bin/message/template/send"
CUSTOM_PATH = "/cgi-bin/message/custom/send"


async def test_a_user_inside_the_window_gets_a_customer_service_message(
    db: Database, engine: Engine, platform: FakeWeChatAPI, clock: FixedClock
) -> None:
    await add_user(db, "o-in", clock() - HOUR)
    platform.interact("o-in", at=clock() - HOUR)
    await queue(db, notice("o-in", "class_reminder", "明晚七点上课", "r:1", **{"class": "摄影"}), clock())
    assert await engine.run_once() == 1
    assert [r.text for r in platform.to("o-in")] == ["明晚七点上课"]
    assert await outbox(db) == [("r:1", "sent", "custom", "")]
    assert await ledger(db) == [("custom", "sent", 0)]
    assert await engine.run_once() == 0  # nothing is sent twice


async def test_outside_the_window_a_configured_purpose_goes_as_a_template_with_its_fields(
    db: Database, engine: Engine, platform: FakeWeChatAPI, clock: FixedClock
) -> None:
    await add_user(db, "o-out", clock() - 50 * HOUR)
    fields = {"class": "摄影入门", "time": "12月2日 19:00", "venue": "布吉青年之家"}
    await queue(db, notice("o-out", "class_reminder", "明晚七点上课", "r:2", **fields), clock())
    await engine.run_once()
    [got] = platform.to("o-out")
    assert (got.way, got.template_id) == ("template", "tpl-class-reminder")
    assert got.text == "thing1=摄影入门 thing3=布吉青年之家 time2=12月2日 19:00"
    [(status, way, msg_id)] = await outbox(db, "status", "way", "msg_id")
    assert (status, way) == ("sent", "template") and msg_id


async def test_a_purpose_without_template_waits_for_the_next_interaction_then_goes(
    db: Database, engine: Engine, platform: FakeWeChatAPI, clock: FixedClock
) -> None:
    await add_user(db, "o-wait", clock() - 50 * HOUR)
    await queue(db, notice("o-wait", "volunteer_thanks", "谢谢你的服务", "t:1"), clock())
    await engine.run_once()
    assert await outbox(db) == [("t:1", "waiting", "none", "window_closed")]
    assert await engine.wake() == (0, 0)
    clock.advance(60)
    await add_user(db, "o-wait", clock())  # they wrote: the write-behind moved last_seen
    platform.interact("o-wait")
    assert await engine.wake() == (1, 0)
    await engine.run_once()
    assert [r.text for r in platform.to("o-wait")] == ["谢谢你的服务"]


async def test_a_notice_waiting_too_long_is_dropped_with_its_reason(
    db: Database, make_engine: MakeEngine, clock: FixedClock
) -> None:
    engine = await make_engine(outbox_wait=3600)
    await add_user(db, "o-old", clock() - 50 * HOUR)
    await queue(db, notice("o-old", "volunteer_thanks", "谢谢", "t:2"), clock())
    await engine.run_once()
    clock.advance(3601)
    assert await engine.wake() == (0, 1)
    assert await outbox(db) == [("t:2", "dropped", "none", "expired: window_closed")]


async def test_45015_replans_to_the_template_and_the_ledger_keeps_both_attempts(
    db: Database, engine: Engine, platform: FakeWeChatAPI, clock: FixedClock
) -> None:
    # The database says they wrote an hour ago, the platform only saw a click (a one-minute window).
    await add_user(db, "o-click", clock() - HOUR)
    platform.interact("o-click", at=clock() - HOUR, kind="event")
    await queue(db, notice("o-click", "class_reminder", "上课啦", "r:3", **{"class": "书法"}), clock())
    await engine.run_once()
    assert [r.way for r in platform.to("o-click")] == ["template"]
    assert await ledger(db) == [("custom", "refused", 45015), ("template", "sent", 0)]


async def test_the_allowance_is_counted_across_rows_and_the_sixth_goes_by_template(
    db: Database, engine: Engine, platform: FakeWeChatAPI, clock: FixedClock
) -> None:
    await add_user(db, "o-many", clock() - 60)
    platform.interact("o-many", at=clock() - 60)
    for i in range(6):
        await queue(db, notice("o-many", "class_reminder", f"第{i}条", f"m:{i}", **{"class": "x"}), clock())
    await engine.run_once()
    ways = [r.way for r in platform.to("o-many")]
    assert sorted(ways) == ["custom"] * 5 + ["template"]
    assert platform.errors[45047] == 0  # counted by the engine, not learnt from refusals


async def test_43004_marks_the_user_unsubscribed_and_drops(
    db: Database, engine: Engine, platform: FakeWeChatAPI, clock: FixedClock
) -> None:
    await add_user(db, "o-gone", clock() - 50 * HOUR)
    platform.follow("someone-else")  # o-gone is no follower any more
    await queue(db, notice("o-gone", "class_reminder", "上课", "r:4", **{"class": "x"}), clock())
    await engine.run_once()
    assert await outbox(db) == [("r:4", "dropped", "template", "not_follower")]
    async with db.session() as s:
        assert (
            await s.execute(text("SELECT subscribed FROM users WHERE external_id = 'o-gone'"))
        ).scalar_one() is False
    await queue(db, notice("o-gone", "class_reminder", "又一条", "r:5", **{"class": "x"}), clock())
    await engine.run_once()
    assert (await outbox(db))[-1] == ("r:5", "dropped", "none", "unsubscribed")  # no call made for it


async def queue_templates(db: Database, clock: FixedClock, n: int) -> None:
    for i in range(n):
        await add_user(db, f"o-q{i}", clock() - 50 * HOUR)
        await queue(db, notice(f"o-q{i}", "class_reminder", "上课", f"q:{i}", **{"class": "x"}), clock())


async def pending_until(db: Database) -> tuple[list[str], set[float]]:
    rows = await outbox(db, "status", "next_attempt_at")
    return sorted(r[0] for r in rows), {r[1].timestamp() for r in rows if r[0] == "pending"}


async def test_the_template_quota_is_counted_before_the_platform_refuses(
    db: Database, make_engine: MakeEngine, platform: FakeWeChatAPI, clock: FixedClock
) -> None:
    engine = await make_engine(outbox_template_daily=1)
    await queue_templates(db, clock, 3)
    await engine.run_once()
    statuses, due = await pending_until(db)
    assert statuses == ["pending", "pending", "sent"]
    assert due == {clock() + 14 * HOUR}  # 10:00 in Shanghai: due again at midnight
    assert platform.errors[45009] == 0
    clock.advance(14 * HOUR)
    await engine.run_once()
    statuses, due = await pending_until(db)
    assert statuses == ["pending", "sent", "sent"]  # one a day
    assert due == {clock() + 24 * HOUR}


async def test_45009_pauses_the_template_way_until_the_next_day(
    db: Database, engine: Engine, platform: FakeWeChatAPI, clock: FixedClock
) -> None:
    await queue_templates(db, clock, 5)
    platform.template_daily = 1  # someone else used the quota: only the platform knows
    await engine.run_once()
    statuses, due = await pending_until(db)
    assert statuses == ["pending"] * 4 + ["sent"]
    assert due == {clock() + 14 * HOUR}
    refused = platform.errors[45009]
    await queue_templates(db, clock, 6)  # o-q5 is new and due now: the pause holds it without a call
    await engine.run_once()
    assert platform.errors[45009] == refused
    clock.advance(14 * HOUR)
    platform.template_daily = 100
    await engine.run_once()
    assert (await pending_until(db))[0] == ["sent"] * 6


async def test_busy_platform_is_retried_with_backoff_and_jitter(
    db: Database, engine: Engine, platform: FakeWeChatAPI, clock: FixedClock
) -> None:
    await add_user(db, "o-busy", clock() - 60)
    platform.interact("o-busy", at=clock() - 60)
    platform.fail_next(CUSTOM_PATH, -1)
    await queue(db, notice("o-busy", "late_reply", "久等了", "l:1"), clock())
    await engine.run_once()
    [(status, attempts, due)] = await outbox(db, "status", "attempts", "next_attempt_at")
    assert (status, attempts) == ("pending", 1)
    assert 2.5 <= due.timestamp() - clock() <= 5.0  # base 5 s, jitter between half and all
    assert await engine.run_once() == 0  # not due yet
    clock.advance(5)
    await engine.run_once()
    assert [r.text for r in platform.to("o-busy")] == ["久等了"]


async def test_a_rejected_token_is_refreshed_once_and_the_send_goes_through(
    db: Database, engine: Engine, platform: FakeWeChatAPI, clock: FixedClock
) -> None:
    await add_user(db, "o-tok", clock() - 60)
    platform.interact("o-tok", at=clock() - 60)
    await queue(db, notice("o-tok", "late_reply", "一", "k:1"), clock())
    await engine.run_once()
    platform.expire_tokens()
    await queue(db, notice("o-tok", "late_reply", "二", "k:2"), clock())
    await engine.run_once()
    assert [r.text for r in platform.to("o-tok")] == ["一", "二"]
    assert platform.token_requests == 2


async def test_a_bad_template_id_is_dropped(
    db: Database, engine: Engine, platform: FakeWeChatAPI, clock: FixedClock
) -> None:
    platform.templates.pop("tpl-waitlist-promoted")
    await add_user(db, "o-bad", clock() - 50 * HOUR)
    await queue(db, notice("o-bad", "waitlist_promoted", "候补成功", "w:1"), clock())
    await engine.run_once()
    assert await outbox(db) == [("w:1", "dropped", "template", "errcode 40037")]


async def test_a_subscription_notice_needs_a_consent_and_spends_it(
    db: Database, engine: Engine, platform: FakeWeChatAPI, clock: FixedClock
) -> None:
    uid = await add_user(db, "o-sub", clock() - 50 * HOUR)
    await queue(db, notice("o-sub", "internship_match", "新岗位", "i:1", title="前端实习"), clock())
    await engine.run_once()
    assert await outbox(db) == [("i:1", "waiting", "none", "no_consent")]
    async with db.session() as s:
        await s.execute(
            text("INSERT INTO subscribe_consents VALUES (:u, 'sub-internship-match', 1, now())"), {"u": uid}
        )
    platform.grant("o-sub", "sub-internship-match")
    await queue(db, notice("o-sub", "internship_match", "又一个岗位", "i:2", title="数据实习"), clock())
    await engine.run_once()
    assert [r.way for r in platform.to("o-sub")] == ["subscribe"]
    async with db.session() as s:
        left = (await s.execute(text("SELECT remaining FROM subscribe_consents"))).scalar_one()
    assert left == 0


async def test_43101_consent_refused_replans_and_waits(
    db: Database, engine: Engine, platform: FakeWeChatAPI, clock: FixedClock
) -> None:
    uid = await add_user(db, "o-ref", clock() - 50 * HOUR)
    async with db.session() as s:
        await s.execute(
            text("INSERT INTO subscribe_consents VALUES (:u, 'sub-internship-match', 1, now())"), {"u": uid}
        )
    await queue(db, notice("o-ref", "internship_match", "新岗位", "i:3", title="x"), clock())
    await engine.run_once()  # the platform has no consent on record: 43101
    assert await outbox(db) == [("i:3", "waiting", "none", "subscribe_refused")]
    assert await ledger(db) == [("subscribe", "refused", 43101)]
    async with db.session() as s:
        assert (await s.execute(text("SELECT remaining FROM subscribe_consents"))).scalar_one() == 0


async def test_two_engines_claim_disjoint_rows_and_every_notice_goes_once(
    db: Database, make_engine: MakeEngine, platform: FakeWeChatAPI, clock: FixedClock
) -> None:
    first, second = await make_engine(outbox_claim=7), await make_engine(outbox_claim=7)
    for n in range(60):
        await add_user(db, f"o-c{n}", clock() - 60)
        platform.interact(f"o-c{n}", at=clock() - 60)
        await queue(db, notice(f"o-c{n}", "late_reply", f"你好{n}", f"c:{n}"), clock())

    async def drain(engine: Engine) -> int:
        total = 0
        while claimed := await engine.run_once():
            total += claimed
        return total

    counts = await asyncio.gather(drain(first), drain(second))
    assert sum(counts) == 60 and min(counts) > 0
    assert all(len(platform.to(f"o-c{n}")) == 1 for n in range(60))


async def test_with_redis_gone_customer_service_messages_still_go_and_templates_wait_for_it(
    db: Database,
    make_engine: MakeEngine,
    platform: FakeWeChatAPI,
    clock: FixedClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The limiter and the template count live in Redis: without it, only what PostgreSQL alone can
    decide goes out (a late reply inside the window), paced by the worker itself."""
    monkeypatch.setattr(worker, "REDIS_COOLDOWN", 0.05)
    redis = RedisServer(tmp_path)
    await redis.start()
    try:
        engine = await make_engine(redis_url=redis.url)
        await add_user(db, "o-near", clock() - HOUR)
        platform.interact("o-near", at=clock() - HOUR)
        await add_user(db, "o-far", clock() - 50 * HOUR)
        await redis.kill()
        await queue(db, notice("o-near", "late_reply", "久等了", "g:1"), clock())
        await queue(db, notice("o-far", "class_reminder", "明晚上课", "g:2", **{"class": "摄影"}), clock())
        assert await engine.run_once() == 2
        assert [r.text for r in platform.to("o-near")] == ["久等了"]
        assert platform.to("o-far") == [] and TEMPLATE_PATH not in [path for path, _ in platform.calls]
        rows = await outbox(db, "idem_key", "status", "last_error", "next_attempt_at")
        assert [r[:3] for r in rows] == [("g:1", "sent", ""), ("g:2", "pending", "template_paused")]
        assert rows[1][3].timestamp() == clock() + UNKNOWN_PAUSE

        await redis.start()  # back: after the breaker's cool-down the template is counted and sent
        await asyncio.sleep(0.1)
        clock.advance(UNKNOWN_PAUSE)
        assert await engine.run_once() == 1
        assert [r.way for r in platform.to("o-far")] == ["template"]
    finally:
        await redis.kill()
