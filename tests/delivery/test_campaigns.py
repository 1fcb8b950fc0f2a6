"""Campaigns end to end on the fake platform: plan, two-person approval, send, schedule, cancel, audiences."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from bot.db import Database
from bot.db.delivery import campaigns as cq
from bot.outbox import audiences
from bot.outbox.campaigns import CampaignError, Campaigns
from bot.outbox.engine import Engine
from bot.settings import Settings
from tests.conftest import FixedClock
from tests.delivery.conftest import MakeEngine, add_user
from tests.fakes.wechat_api import FakeWeChatAPI

HOUR = 3600.0
DAY = 24 * HOUR


async def followers(db: Database, platform: FakeWeChatAPI, clock: FixedClock) -> dict[str, int]:
    """3 inside the window, 5 outside, 1 who left, 1 outside with this month's 4 mass sends used."""
    ids = {}
    for n in range(3):
        ids[f"o-in{n}"] = await add_user(db, f"o-in{n}", clock() - HOUR, street="布吉")
        platform.interact(f"o-in{n}", at=clock() - HOUR)
    for n in range(5):
        ids[f"o-out{n}"] = await add_user(db, f"o-out{n}", clock() - 3 * DAY, street="平湖")
    ids["o-left"] = await add_user(db, "o-left", clock() - 3 * DAY, subscribed=False)
    ids["o-full"] = await add_user(db, "o-full", clock() - 3 * DAY)
    async with db.session() as s:
        old = await cq.create(
            s, name="旧", content={"text": "x"}, audience={"source": "all"}, scheduled_at=None, by="li", now=clock()
        )
        for k in range(4):
            await s.execute(
                text("""
                INSERT INTO outbox_batches (campaign_id, clientmsgid, size, members, status, next_attempt_at, sent_at)
                VALUES (:c, :k, 2, ARRAY[:u, 0], 'sent', :t, :t)
                """),
                {
                    "c": old,
                    "u": ids["o-full"],
                    "k": f"old:{k}",
                    "t": datetime.fromtimestamp(clock() - HOUR * (k + 1), UTC),
                },
            )
    return ids


async def drain(engine: Engine) -> None:
    while await engine.run_once() or await engine.run_batch_once():
        pass


@pytest.fixture
def campaigns(delivery_settings: Callable[..., Settings], db: Database, clock: FixedClock) -> Callable[..., Campaigns]:
    def make(**overrides: object) -> Campaigns:
        return Campaigns(delivery_settings(**overrides), db, clock)

    return make


async def test_a_text_campaign_is_planned_approved_by_two_sent_and_done(
    db: Database,
    campaigns: Callable[..., Campaigns],
    make_engine: MakeEngine,
    platform: FakeWeChatAPI,
    clock: FixedClock,
) -> None:
    await followers(db, platform, clock)
    c = campaigns(outbox_mass_batch=4, campaign_two_person=5)
    cid = await c.create(
        name="冬季夜校开课", by="li", audience={"source": "all"}, text="冬季夜校开课啦，回复「夜校」报名"
    )
    plan = await c.plan(cid, by="li")
    assert plan["recipients"] == 10
    assert plan["ways"] == {"custom": 3, "mass": 5}
    assert plan["unreachable"] == {"unsubscribed": 1, "mass_quota": 1}
    assert plan["days"] == {"2026-12-01": {"custom": 3, "mass": 5}}
    assert plan["batches"] == 2

    with pytest.raises(CampaignError, match="要在「已批准」（approved）时才能做"):
        await c.send(cid, by="li")
    assert await c.approve(cid, by="li") == "planned"  # the maker's own approval is not the second
    assert await c.approve(cid, by="li") == "planned"
    assert await c.approve(cid, by="wang") == "approved"
    assert await c.send(cid, by="wang") == "sending"

    engine = await make_engine(outbox_mass_batch=4)
    await drain(engine)
    for n in range(3):
        assert [r.way for r in platform.to(f"o-in{n}")] == ["custom"]
    for n in range(5):
        assert [r.way for r in platform.to(f"o-out{n}")] == ["mass"]
    assert platform.to("o-left") == [] and platform.to("o-full") == []
    assert sum(platform.errors.values()) == 0
    assert await c.finish_done() == [cid]
    campaign, progress = await c.status(cid)
    assert campaign.state == "done"
    assert progress == {"sent": 8, "dropped": 1, "waiting": 1}
    async with db.session() as s:
        trail = await cq.audit_trail(s, cid)
    assert trail == [
        ("li", "create"),
        ("li", "plan"),
        ("li", "approve"),
        ("li", "approve"),
        ("wang", "approve"),
        ("wang", "send"),
        ("system", "done"),
    ]


async def test_a_mass_call_repeated_after_a_lost_commit_sends_nothing_twice(
    db: Database, campaigns: Callable[..., Campaigns], engine: Engine, platform: FakeWeChatAPI, clock: FixedClock
) -> None:
    for n in range(4):
        await add_user(db, f"o-m{n}", clock() - 3 * DAY)
    c = campaigns()
    cid = await c.create(name="普法", by="li", audience={"source": "all"}, text="普法小课堂")
    await c.plan(cid)
    await c.approve(cid, by="li")
    await c.send(cid, by="li")
    async with db.session() as s:
        clientmsgid = (await s.execute(text("SELECT clientmsgid FROM outbox_batches"))).scalar_one()
    # The call went through but the worker died before its commit: the platform knows the clientmsgid.
    await engine.api.mass_send_text([f"o-m{n}" for n in range(4)], "普法小课堂", clientmsgid)
    assert await engine.run_batch_once() == 4
    assert platform.errors[45065] == 1
    assert all(len(platform.to(f"o-m{n}")) == 1 for n in range(4))
    assert (await c.status(cid))[1] == {"sent": 4}


async def test_a_template_campaign_is_spread_over_the_days_the_quota_needs(
    db: Database,
    campaigns: Callable[..., Campaigns],
    make_engine: MakeEngine,
    platform: FakeWeChatAPI,
    clock: FixedClock,
) -> None:
    for n in range(7):
        await add_user(db, f"o-t{n}", clock() - 3 * DAY)
    await add_user(db, "o-t0", clock() - HOUR)  # inside the window: still the template (no text to send)
    platform.interact("o-t0", at=clock() - HOUR)
    c = campaigns(outbox_template_daily=3)
    fields = {"first": "志愿者之城4.0", "keyword1": "12月5日", "remark": "欢迎报名"}
    cid = await c.create(name="志愿", by="li", audience={"source": "all"}, template_id="tpl-campaign", fields=fields)
    plan = await c.plan(cid)
    assert plan["days"] == {
        "2026-12-01": {"template": 3},
        "2026-12-02": {"template": 3},
        "2026-12-03": {"template": 1},
    }
    await c.approve(cid, by="li")
    await c.send(cid, by="li")
    engine = await make_engine(outbox_template_daily=3)
    await drain(engine)
    assert sum(len(platform.to(f"o-t{n}")) for n in range(7)) == 3
    clock.advance(14 * HOUR)  # midnight
    await drain(engine)
    assert sum(len(platform.to(f"o-t{n}")) for n in range(7)) == 6
    clock.advance(DAY)
    await drain(engine)
    got = [platform.to(f"o-t{n}") for n in range(7)]
    assert all(len(g) == 1 and g[0].template_id == "tpl-campaign" for g in got)
    assert got[0][0].text == "first=志愿者之城4.0 keyword1=12月5日 remark=欢迎报名"
    assert platform.errors[45009] == 0


async def test_a_scheduled_campaign_waits_in_the_database_and_starts_after_a_restart(
    db: Database, campaigns: Callable[..., Campaigns], platform: FakeWeChatAPI, clock: FixedClock
) -> None:
    await followers(db, platform, clock)
    c = campaigns()
    cid = await c.create(
        name="周末",
        by="li",
        audience={"source": "streets", "params": {"streets": ["布吉"]}},
        text="周末活动",
        at=clock() + 2 * HOUR,
    )
    assert (await c.plan(cid))["ways"] == {"custom": 3}
    await c.approve(cid, by="li")
    assert await c.send(cid, by="li") == "approved"
    assert await c.start_due() == []
    clock.advance(2 * HOUR)
    restarted = campaigns()  # a new process: nothing but the database remembers
    assert await restarted.start_due() == [cid]
    assert await restarted.start_due() == []  # safe to run twice
    campaign, progress = await restarted.status(cid)
    assert (campaign.state, progress) == ("sending", {"pending": 3})


async def test_cancel_stops_what_has_not_gone_out(
    db: Database,
    campaigns: Callable[..., Campaigns],
    make_engine: MakeEngine,
    platform: FakeWeChatAPI,
    clock: FixedClock,
) -> None:
    await followers(db, platform, clock)
    c = campaigns()
    cid = await c.create(name="取消", by="li", audience={"source": "all"}, text="这条会被取消")
    await c.plan(cid)
    await c.approve(cid, by="li")
    await c.send(cid, by="li")
    engine = await make_engine(outbox_claim=1)
    await engine.run_once()  # one customer-service message goes out
    assert await c.cancel(cid, by="wang") == 8  # 2 custom, 5 mass, 1 waiting
    await drain(engine)
    assert sum(len(v) for v in platform.received.values()) == 1
    campaign, progress = await c.status(cid)
    assert campaign.state == "cancelled"
    assert progress == {"sent": 1, "cancelled": 8, "dropped": 1}
    with pytest.raises(CampaignError):
        await c.cancel(cid, by="wang")


async def test_audiences_tags_uploaded_lists_and_a_programme_source(
    db: Database, campaigns: Callable[..., Campaigns], platform: FakeWeChatAPI, clock: FixedClock
) -> None:
    ids = await followers(db, platform, clock)
    c = campaigns()
    async with db.session() as s:
        assert await cq.tag_users(s, "志愿者", ["o-in0", "o-out0", "o-nobody"]) == (2, 1)
    tagged = await c.create(name="t", by="li", audience={"source": "tag", "params": {"tag": "志愿者"}}, text="x")
    assert (await c.plan(tagged))["recipients"] == 2
    listed = await c.create(name="l", by="li", audience={"source": "openids"}, text="x", openids=["o-out1", "o-out2"])
    assert (await c.plan(listed))["ways"] == {"mass": 2}
    audiences.register("tests.pair", lambda p: ("SELECT id FROM users WHERE id = ANY(:ids)", {"ids": p["ids"]}))
    sourced = await c.create(
        name="s", by="li", audience={"source": "tests.pair", "params": {"ids": [ids["o-in1"], ids["o-left"]]}}, text="x"
    )
    plan = await c.plan(sourced)
    assert (plan["ways"], plan["unreachable"]) == ({"custom": 1}, {"unsubscribed": 1})
    with pytest.raises(Exception, match="不认识的受众"):
        await c.create(name="bad", by="li", audience={"source": "nope"}, text="x")
    assert audiences.parse("streets:平湖,布吉") == {"source": "streets", "params": {"streets": ["平湖", "布吉"]}}
    assert audiences.parse("courses.class:class=12") == {"source": "courses.class", "params": {"class": "12"}}


async def test_concurrent_approvals_and_starts_pass_once(
    db: Database, campaigns: Callable[..., Campaigns], platform: FakeWeChatAPI, clock: FixedClock
) -> None:
    import asyncio

    await followers(db, platform, clock)
    c = campaigns(campaign_two_person=5)
    cid = await c.create(name="并发", by="li", audience={"source": "all"}, text="x")
    await c.plan(cid)
    states = await asyncio.gather(c.approve(cid, by="wang"), c.approve(cid, by="zhao"), return_exceptions=True)
    # The second to take the campaign's lock finds it approved already: refused, never approved twice.
    assert sorted(map(str, states)) == sorted(
        ["approved", f"群发活动 {cid} 现在是「已批准」（approved），这一步要在「已规划，待批准」（planned）时才能做"]
    )
    results = await asyncio.gather(*(c.send(cid, by="li") for _ in range(4)), return_exceptions=True)
    assert results.count("sending") == 1
    assert all(isinstance(r, CampaignError) for r in results if r != "sending")
    _, progress = await c.status(cid)
    assert progress == {"pending": 8, "dropped": 1, "waiting": 1}  # 3 rows and a batch of 5
    async with db.session() as s:
        sends = [a for _, a in await cq.audit_trail(s, cid) if a == "send"]
    assert sends == ["send"]


async def test_status_says_when_nothing_here_can_send(
    db: Database,
    campaigns: Callable[..., Campaigns],
    delivery_settings: Callable[..., Settings],
    platform: FakeWeChatAPI,
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A campaign sending where no AppSecret is configured (the demo) waits in pending for ever:
    its status says so, and says nothing of the kind where the secret is set."""
    import argparse

    from pydantic import SecretStr

    from bot.commands.delivery import NO_SENDER, Handles, _status

    await followers(db, platform, clock)
    c = campaigns(campaign_two_person=100)
    cid = await c.create(name="通知", by="li", audience={"source": "all"}, text="周六青年之家开放")
    await c.plan(cid, by="li")
    await c.approve(cid, by="li")
    assert await c.send(cid, by="li") == "sending"
    args = argparse.Namespace(id=cid, watch=False, every=1.0)
    with_secret = delivery_settings()
    assert await _status(Handles(with_secret, db), args) == 0
    assert NO_SENDER not in capsys.readouterr().out
    without = with_secret.model_copy(update={"wechat_app_secret": SecretStr("")})
    assert await _status(Handles(without, db), args) == 0
    out = capsys.readouterr().out
    assert "「发送中」（sending）" in out and out.rstrip().endswith(NO_SENDER)
