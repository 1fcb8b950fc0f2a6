"""Real concurrent deliveries: the database, not only the code, keeps check-ins and seats single."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.db.volunteer.tables import CheckIn, LedgerEntry, Shift
from tests.conftest import FixedClock, GatewayFactory
from tests.volunteer.support import seed


async def test_fifty_deliveries_of_one_volunteer_make_one_check_in(
    make_gateway: GatewayFactory, clock: FixedClock
) -> None:
    gw = await make_gateway(clock=clock, wechat_replay_window=0)
    data = await seed(gw.db, clock())
    user = "o_double_tapper_0001"
    answers = await asyncio.gather(*(gw.say(user, "签到 381204") for _ in range(50)))
    assert all(a.status == 200 for a in answers)
    texts = {a.text.split("\n")[0] for a in answers}
    assert texts <= {
        gw.expected("volunteer.checked_in_unverified", title="坂田社区环境清洁", time="10:00").split("\n")[0],
        gw.expected("volunteer.checkin_already", time="10:00", title="坂田社区环境清洁"),
        gw.expected("system.busy"),
    }
    clock.advance(3600)
    await asyncio.gather(*(gw.say(user, "签退") for _ in range(20)))
    async with gw.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(CheckIn)) == 1
        assert await s.scalar(select(func.count()).select_from(LedgerEntry)) == 1
        shift = await s.get(Shift, data.now_shift)
        assert shift is not None and shift.taken == 1


async def test_walk_ins_never_exceed_the_seats(make_gateway: GatewayFactory, clock: FixedClock) -> None:
    gw = await make_gateway(clock=clock, wechat_replay_window=0)
    data = await seed(gw.db, clock(), seats=7)
    answers = await asyncio.gather(*(gw.say(f"o_crowd_{i:04d}", "签到 381204") for i in range(30)))
    full = gw.expected("volunteer.checkin_full", title="坂田社区环境清洁")
    assert sum(a.text == full for a in answers) == 23
    async with gw.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(CheckIn)) == 7
        shift = await s.get(Shift, data.now_shift)
        assert shift is not None and shift.taken == 7
