"""Check-in in the room, through the signed WeChat entry: by scan, by follow on the spot, by code."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from bot.channels.wechat.simulator import event_xml
from tests.conftest import FixedClock, GatewayFactory
from tests.courses.support import NOW, add_class, add_profile, events, signup_rows
from tests.harness import ACCOUNT, Gateway


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
async def gw(make_gateway: GatewayFactory, clock: FixedClock) -> Gateway:
    return await make_gateway(clock=clock, wechat_replay_window=0)


async def test_check_in_by_scan_and_by_code(gw: Gateway, clock: FixedClock) -> None:
    cls = await add_class(gw.db, "C1", NOW + timedelta(hours=3), code="YX4821")
    for user in ("o-scan", "o-code"):
        await add_profile(gw.db, user)
        await gw.say(user, f"报名#{cls}")
    clock.advance(3 * 3600 - 10 * 60)  # ten minutes before the start
    scanned = await gw.event("o-scan", "SCAN", f"class-{cls}", Ticket="t")
    assert scanned.text == gw.expected("courses.checked_in", title="光影入门", venue="坂田青年之家")
    # A second scan a minute later (a scan in the same second is the platform's retry, answered from cache).
    xml = event_xml("o-scan", "SCAN", f"class-{cls}", account=ACCOUNT, at=int(time.time()) + 60, fields={"Ticket": "t"})
    again = await gw.post(xml, "o-scan")
    assert again.text == gw.expected("courses.checkin_already", title="光影入门")
    await gw.dialog("o-code", [("签到 yx4821", "courses.checked_in", {"title": "光影入门", "venue": "坂田青年之家"})])
    assert [r[2] for r in await signup_rows(gw.db, cls)] == ["attended", "attended"]
    assert [(e[0], e[1], e[2]) for e in await events(gw.db, cls) if e[1] == "checked_in"] == [
        ("o-scan", "checked_in", "scan"),
        ("o-code", "checked_in", "code"),
    ]


async def test_following_through_the_class_poster_checks_in_a_walk_in(gw: Gateway, clock: FixedClock) -> None:
    cls = await add_class(gw.db, "C1", NOW + timedelta(minutes=20), capacity=2)
    answer = await gw.event("o-newcomer", "subscribe", f"qrscene_class-{cls}", Ticket="t")
    assert answer.text == gw.expected("courses.walk_in", title="光影入门")
    rows = await signup_rows(gw.db, cls)
    assert [(r[1], r[2]) for r in rows] == [("o-newcomer", "attended")]
    assert [e[1] for e in await events(gw.db, cls)] == ["walk_in"]


async def test_outside_the_window_and_unknown_codes_change_nothing(gw: Gateway, clock: FixedClock) -> None:
    cls = await add_class(gw.db, "C1", NOW + timedelta(hours=3), code="YX4821")
    await add_profile(gw.db, "o-early")
    await gw.say("o-early", f"报名#{cls}")
    window = {"title": "光影入门", "day": "12月1日（周二）", "opens": "12:30", "closes": "13:30"}
    await gw.dialog(
        "o-early",
        [
            ("YX4821", "courses.checkin_outside", window),
            ("YX0000", "courses.code_unknown", {"code": "YX0000"}),
        ],
    )
    unknown = await gw.event("o-early", "SCAN", "class-99999", Ticket="t")
    assert unknown.text == gw.expected("courses.checkin_unknown")
    clock.advance(3 * 3600 + 31 * 60)  # 31 minutes after the start: the window has closed
    await gw.dialog("o-early", [("YX4821", "courses.checkin_outside", window)])
    assert [r[2] for r in await signup_rows(gw.db, cls)] == ["confirmed"]


async def test_a_code_for_another_class_is_refused(gw: Gateway, clock: FixedClock) -> None:
    mine = await add_class(gw.db, "C1", NOW + timedelta(minutes=15), code="YX1111", title="人像构图")
    other = await add_class(gw.db, "C2", NOW + timedelta(minutes=15), code="YX2222", venue="布吉青年之家")
    await add_profile(gw.db, "o-lost")
    await gw.say("o-lost", f"报名#{mine}")
    await gw.dialog(
        "o-lost",
        [
            (
                "YX2222",
                "courses.checkin_other_class",
                {"title": "光影入门", "other": "人像构图", "venue": "坂田青年之家"},
            )
        ],
    )
    assert await signup_rows(gw.db, other) == []
    assert [r[2] for r in await signup_rows(gw.db, mine)] == ["confirmed"]


async def test_a_walk_in_needs_a_free_seat(gw: Gateway, clock: FixedClock) -> None:
    cls = await add_class(gw.db, "C1", NOW + timedelta(hours=3), capacity=1, code="YX4821")
    for user in ("o-seat", "o-waiting"):
        await add_profile(gw.db, user)
        await gw.say(user, f"报名#{cls}")
    clock.advance(3 * 3600)
    await gw.dialog("o-waiting", [("YX4821", "courses.walk_in_full", {"title": "光影入门"})])
    await gw.dialog("o-stranger", [("YX4821", "courses.walk_in_full", {"title": "光影入门"})])
    assert [r[2] for r in await signup_rows(gw.db, cls)] == ["confirmed", "waitlisted"]
