"""Contention on PostgreSQL through the signed HTTP entry: never oversold, arrival order, promotion once."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest

from tests.conftest import FixedClock, GatewayFactory
from tests.courses.support import NOW, add_class, add_profile, events, signup_rows
from tests.gateway.support import poll
from tests.harness import Gateway

POSITION = re.compile(r"目前是第(\d+)位")


@pytest.fixture
async def gw(make_gateway: GatewayFactory) -> Gateway:
    return await make_gateway(clock=FixedClock(NOW), wechat_replay_window=0)


async def test_200_concurrent_signups_for_30_seats(gw: Gateway) -> None:
    cls = await add_class(gw.db, "HOT", NOW + timedelta(days=2), capacity=30)
    users = [f"o-rush-{n:03d}" for n in range(200)]
    for user in users:
        await add_profile(gw.db, user)

    answers = await asyncio.gather(*(gw.say(user, f"报名#{cls}") for user in users))

    booked = {u for u, a in zip(users, answers, strict=True) if a.text.startswith("报名成功")}
    told = {u: int(m.group(1)) for u, a in zip(users, answers, strict=True) if (m := POSITION.search(a.text))}
    assert len(booked) == 30 and len(told) == 170 and not booked & set(told), "every user answered, one way"
    rows = await signup_rows(gw.db, cls)
    confirmed = [r for r in rows if r[2] == "confirmed"]
    waiting = [r for r in rows if r[2] == "waitlisted"]
    assert len(rows) == 200 and len(confirmed) == 30 and len(waiting) == 170
    assert {r[1] for r in confirmed} == booked
    # Arrival order: every seat went to an earlier arrival than any waiting person, and the
    # positions users were told are their places in that order.
    assert max(r[0] for r in confirmed) < min(r[0] for r in waiting)
    assert [told[r[1]] for r in waiting] == list(range(1, 171))
    kinds = [e[1] for e in await events(gw.db, cls)]
    assert kinds.count("signed_up") == 30 and kinds.count("waitlisted") == 170


async def test_two_racing_cancellations_promote_exactly_two(gw: Gateway) -> None:
    cls = await add_class(gw.db, "HOT", NOW + timedelta(days=2), capacity=2)
    users = [f"o-race-{n}" for n in range(6)]
    for user in users:
        await add_profile(gw.db, user)
        await gw.say(user, f"报名#{cls}")

    await asyncio.gather(gw.say(users[0], f"取消报名#{cls}"), gw.say(users[1], f"取消报名#{cls}"))

    assert [(r[1], r[2]) for r in await signup_rows(gw.db, cls)] == [
        (users[0], "cancelled"),
        (users[1], "cancelled"),
        (users[2], "confirmed"),
        (users[3], "confirmed"),
        (users[4], "waitlisted"),
        (users[5], "waitlisted"),
    ]
    promoted = [e for e in await events(gw.db, cls) if e[1] == "promoted"]
    assert sorted(e[0] for e in promoted) == [users[2], users[3]]

    async def both_told() -> bool:
        return {m["touser"] for m in gw.fake.sent} >= {users[2], users[3]}

    assert await poll(both_told)
    assert sorted(m["touser"] for m in gw.fake.sent) == [users[2], users[3]], "each told once, nobody else"


async def test_concurrent_walk_ins_never_overfill(make_gateway: GatewayFactory) -> None:
    clock = FixedClock(NOW)
    gw = await make_gateway(clock=clock, wechat_replay_window=0)
    cls = await add_class(gw.db, "ROOM", NOW + timedelta(minutes=10), capacity=5, code="YX5555")
    for user in ("o-seat-1", "o-seat-2"):
        await add_profile(gw.db, user)
        await gw.say(user, f"报名#{cls}")
    walkers = [f"o-walk-{n:02d}" for n in range(20)]
    answers = await asyncio.gather(*(gw.say(user, "YX5555") for user in walkers))
    walked = [a for a in answers if a.text.startswith("现场签到成功")]
    assert len(walked) == 3
    statuses = [r[2] for r in await signup_rows(gw.db, cls)]
    assert statuses.count("confirmed") + statuses.count("attended") == 5
