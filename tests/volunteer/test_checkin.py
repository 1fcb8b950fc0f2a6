"""Check-in and check-out through the signed WeChat entry: every path, what the user reads and what is kept."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from bot.db.volunteer.tables import CheckIn, LedgerEntry
from tests.conftest import FixedClock, GatewayFactory
from tests.volunteer.conftest import Site
from tests.volunteer.support import BANTIAN, BUJI

USER = "o_volunteer_checkin_0001"


async def _checkins(site: Site) -> list[CheckIn]:
    async with site.gw.db.session() as s:
        return list((await s.scalars(select(CheckIn).order_by(CheckIn.id))).all())


async def _ledger(site: Site) -> list[LedgerEntry]:
    async with site.gw.db.session() as s:
        return list((await s.scalars(select(LedgerEntry).order_by(LedgerEntry.id))).all())


async def _locate(site: Site, user: str, lat: float, lng: float) -> None:
    answer = await site.event(user, "LOCATION", Latitude=str(lat), Longitude=str(lng), Precision="30")
    assert answer.status == 200 and answer.text == ""


async def test_code_check_in_then_out_writes_one_ledger_entry(site: Site) -> None:
    gw = site.gw
    await gw.dialog(
        USER,
        [
            ("签到 381204", "volunteer.checked_in_unverified", {"title": "坂田社区环境清洁", "time": "10:00"}),
            ("签到381204", "volunteer.checkin_already", {"time": "10:00", "title": "坂田社区环境清洁"}),
        ],
    )
    [row] = await _checkins(site)
    assert (row.shift_id, row.via, row.verified, row.walk_in, row.checked_out_at) == (
        site.data.now_shift,
        "code",
        False,
        True,
        None,
    )
    site.clock.advance(2 * 3600)  # 12:00; the shift started at 10:30
    params = {"title": "坂田社区环境清洁", "start": "10:30", "end": "12:00", "hours": "1.5", "total": "1.5"}
    await gw.dialog(USER, [("签退", "volunteer.checked_out", params)])
    [entry] = await _ledger(site)
    assert (entry.kind, entry.hours, entry.checkin_id) == ("service", Decimal("1.5"), row.id)
    await gw.dialog(
        USER,
        [
            ("签退", "volunteer.checkout_not_in", {}),
            ("签到 381204", "volunteer.checkin_done", {"title": "坂田社区环境清洁"}),
        ],
    )
    assert len(await _ledger(site)) == 1


async def test_a_check_out_under_the_first_quarter_hour_says_why_nothing_counted(site: Site) -> None:
    gw = site.gw
    site.clock.advance(30 * 60)  # 10:30, the shift's start
    await gw.dialog(
        USER, [("签到 381204", "volunteer.checked_in_unverified", {"title": "坂田社区环境清洁", "time": "10:30"})]
    )
    site.clock.advance(14 * 60 + 59)  # 14:59 served: under 15 minutes counts as nothing
    params = {"title": "坂田社区环境清洁", "start": "10:30", "end": "10:44", "minutes": 15, "total": "0"}
    await gw.dialog(USER, [("签退", "volunteer.checked_out_short", params)])
    [entry] = await _ledger(site)
    assert (entry.kind, entry.hours) == ("service", Decimal(0))  # the service is on record, with 0 hours


async def test_scan_checks_in_and_a_later_scan_checks_out(site: Site) -> None:
    gw = site.gw
    scene = f"shift-{site.data.now_shift}"
    await _locate(site, USER, BANTIAN[0] + 0.001, BANTIAN[1])  # about 110 m away
    first = await site.event(USER, "SCAN", scene)
    assert first.text == gw.expected("volunteer.checked_in", title="坂田社区环境清洁", time="10:00", distance="111米")
    site.clock.advance(20)
    again = await site.event(USER, "SCAN", scene)  # a double scan a moment later
    assert again.text.startswith(gw.expected("volunteer.checkin_already", time="10:00", title="坂田社区环境清洁"))
    [row] = await _checkins(site)
    assert row.verified and row.distance_m == 111 and row.via == "qr"
    site.clock.advance(4 * 3600)  # 14:00, after the shift's end at 13:30: clipped to 10:30-13:30
    out = await site.event(USER, "SCAN", scene)
    assert out.text.startswith(
        gw.expected("volunteer.checked_out", title="坂田社区环境清洁", start="10:30", end="13:30", hours="3", total="3")
    )


async def test_follow_on_the_spot_checks_in(site: Site) -> None:
    gw = site.gw
    answer = await site.event("o_new_follower_0001", "subscribe", f"qrscene_shift-{site.data.now_shift}", Ticket="t")
    assert answer.text.startswith(
        gw.expected("volunteer.checked_in_unverified", title="坂田社区环境清洁", time="10:00")
    )
    assert len(await _checkins(site)) == 1


async def test_too_far_is_refused_with_the_distance(site: Site) -> None:
    gw = site.gw
    await _locate(site, USER, *BUJI)
    answer = await gw.say(USER, "签到 381204")
    assert answer.text == gw.expected(
        "volunteer.checkin_too_far", title="坂田社区环境清洁", distance="8.3公里", radius=500
    )
    assert await _checkins(site) == []


async def test_an_old_location_does_not_count(site: Site) -> None:
    gw = site.gw
    await _locate(site, USER, *BUJI)
    site.clock.advance(601)  # the location is 10 minutes and a second old
    answer = await gw.say(USER, "381204")  # the code alone
    assert answer.text.startswith(
        gw.expected("volunteer.checked_in_unverified", title="坂田社区环境清洁", time="10:10")
    )


async def test_codes_for_another_day_an_ended_shift_or_nothing(site: Site) -> None:
    gw = site.gw
    await gw.dialog(
        USER,
        [
            ("签到 381205", "volunteer.checkin_other_day", {"day": "12月2日（周三）", "title": "坂田社区环境清洁"}),
            ("签到 381206", "volunteer.checkin_ended", {"title": "坂田社区环境清洁"}),
            ("签到 999999", "volunteer.checkin_unknown", {"code": "999999"}),
            ("签到 ABC", "volunteer.checkin_bad_code", {"code": "ABC"}),
            ("签退 12345", "volunteer.checkin_bad_code", {"code": "12345"}),
            ("签到", "volunteer.checkin_how", {}),
            ("签退", "volunteer.checkout_not_in", {}),
        ],
    )
    # A bare 6-digit number that is no code is not the programme's: the fallback answers.
    await gw.dialog(USER, [("123456", "fallback.text", {})])
    assert await _checkins(site) == []


async def test_too_early_the_same_day(site: Site) -> None:
    site.clock.advance(-3 * 3600)  # 07:00: the 10:30 shift opens at 09:30
    await site.gw.dialog(
        USER,
        [
            (
                "签到 381204",
                "volunteer.checkin_too_early",
                {"title": "坂田社区环境清洁", "start": "10:30", "opens": "09:30"},
            )
        ],
    )


async def test_one_open_check_in_at_a_time(site: Site) -> None:
    gw = site.gw
    await gw.dialog(
        USER,
        [
            ("签到 381204", "volunteer.checked_in_unverified", {"title": "坂田社区环境清洁", "time": "10:00"}),
            ("签到 381207", "volunteer.checkin_elsewhere", {"other": "坂田社区环境清洁"}),
            ("签退 381207", "volunteer.checkout_other", {"other": "坂田社区环境清洁"}),
        ],
    )
    assert len(await _checkins(site)) == 1


async def test_walk_ins_only_while_seats_remain(make_gateway, clock) -> None:  # type: ignore[no-untyped-def]
    from tests.volunteer.support import seed

    gw = await make_gateway(clock=clock, wechat_replay_window=0)
    await seed(gw.db, clock(), seats=1)
    await gw.dialog(
        "o_walkin_1",
        [("签到 381204", "volunteer.checked_in_unverified", {"title": "坂田社区环境清洁", "time": "10:00"})],
    )
    await gw.dialog("o_walkin_2", [("签到 381204", "volunteer.checkin_full", {"title": "坂田社区环境清洁"})])


async def test_the_demos_example_code_checks_in_and_out_right_after_loading(
    make_gateway: GatewayFactory, clock: FixedClock
) -> None:
    """`longtuan demo` places a shift that started 10 minutes ago under 381204, the code the FAQ
    gives as its example: trying it in the demo works, and the ledger gets its entry."""
    from bot.content import DEFAULT_DIR
    from bot.db.volunteer.demo import load as load_demo

    gw = await make_gateway(clock=clock, wechat_replay_window=0)
    await load_demo(gw.db, DEFAULT_DIR / "demo", now=datetime.fromtimestamp(clock(), UTC))
    user = "o_demo_checkin"
    arrived = await gw.say(user, "签到 381204")
    assert arrived.text.startswith("签到成功✅ 南湾志愿港湾便民服务"), arrived.text
    clock.advance(50 * 60)
    left = await gw.say(user, "签退")
    assert left.text.startswith("签退成功👋 南湾志愿港湾便民服务"), left.text
    assert "记 1 小时" in left.text, left.text  # 50 minutes served: over 45 counts as a full hour
    async with gw.db.session() as s:
        entries = (await s.scalars(select(LedgerEntry))).all()
    assert [(e.kind, e.hours) for e in entries] == [("service", Decimal("1.00"))]
