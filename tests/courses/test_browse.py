"""Browsing the night school by chat on the demo data: the menu, themes, streets, weeks, pages, details."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.content import DEFAULT_DIR
from bot.db.demo import load_demo
from tests.conftest import GatewayFactory
from tests.harness import Gateway

DEMO = Path(DEFAULT_DIR) / "demo"


@pytest.fixture
async def gw(make_gateway: GatewayFactory) -> Gateway:
    # The demo's dates are relative to the wall clock: so is this gateway's.
    gateway = await make_gateway()
    await load_demo(gateway.db, DEMO)
    return gateway


async def test_the_demo_loads_twice_without_duplicates(gw: Gateway) -> None:
    again = await load_demo(gw.db, DEMO)
    assert again["courses"] == 24
    async with gw.db.session() as s:
        counts = [
            (await s.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            for table in ("course_themes", "course_classes", "course_signups", "course_signup_events")
        ]
    assert counts == [9, 24, 3, 3]


async def test_the_menu_lists_classes_page_by_page(gw: Gateway) -> None:
    first = await gw.event("o-browse", "CLICK", "NIGHT_SCHOOL")
    assert first.text.startswith(gw.expected("menu.night_school"))
    assert "近期的夜校课程（第1–5门，共24门）" in first.text and "msgmenucontent=%E8%AF%BE%E7%A8%8B%23" in first.text
    second = await gw.say("o-browse", "更多")
    assert "（第6–10门，共24门）" in second.text
    detail = await gw.say("o-browse", "1")
    assert detail.text.startswith("【") and "老师：" in detail.text and "名额：" in detail.text


async def test_themes_streets_and_weeks(gw: Gateway) -> None:
    photo = await gw.say("o-browse", "摄影课")
    assert photo.text.startswith("手机摄影的夜校课程") and "咖啡" not in photo.text, photo.text
    dance = await gw.say("o-browse", "有什么舞蹈课")
    assert dance.text.startswith("街舞的夜校课程"), dance.text
    street = await gw.say("o-browse", "坂田的课")
    assert street.text.startswith("坂田街道的夜校课程") and "｜布吉" not in street.text, street.text
    week = await gw.say("o-browse", "下周的课")
    assert week.text.startswith("下周的夜校课程"), week.text
    await gw.dialog(
        "o-browse",
        [
            ("钢琴课", "courses.unknown_topic", {"topic": "钢琴", "themes": await _themes(gw)}),
            ("夜校怎么报名", "faq.night_school.signup"),
        ],
    )


async def test_a_theme_street_or_week_said_right_after_the_list_narrows_it(gw: Gateway) -> None:
    """The list's hint invites 「摄影课」; people write 「摄影」. Right after the list, a theme,
    a street or a week narrows it; words that name none of them go on to the other programmes."""
    user = "o-after-list"
    assert "近期的夜校课程" in (await gw.say(user, "我想报名夜校")).text
    photo = await gw.say(user, "摄影")
    assert photo.text.startswith("手机摄影的夜校课程") and "咖啡" not in photo.text, photo.text
    street = await gw.say(user, "坂田")
    assert street.text.startswith("坂田街道的夜校课程"), street.text
    week = await gw.say(user, "下周")
    assert week.text.startswith("下周的夜校课程"), week.text
    # Asked as people ask whether there are some: still a wish to see them.
    for said, starts in (("有周末的吗", "周末的夜校课程"), ("有没有坂田的？", "坂田街道的夜校课程")):
        asked = await gw.say(user, said)
        assert asked.text.startswith(starts), (said, asked.text)
    other = await gw.say(user, "摄影好玩吗")
    assert "夜校课程（" not in other.text, other.text
    thanks = await gw.say(user, "谢谢")
    assert "夜校课程" not in thanks.text, thanks.text
    # Without a list just shown, 「摄影」 is not taken for the night school.
    cold = await gw.say("o-after-list-cold", "摄影")
    assert "夜校课程" not in cold.text, cold.text


def _hours_listed(text: str) -> list[int]:
    """The start hours of the classes a list shows (each line: ...（周三）19:30｜...)."""
    return [int(h) for h in re.findall(r"）(\d\d):\d\d｜", text)]


async def test_a_part_of_the_day_narrows_the_list(gw: Gateway) -> None:
    """「有晚上的吗」 right after the list, 「周末下午的课」 or 「晚上有课吗」 cold: classes starting then."""
    user = "o-part-of-day"
    assert "近期的夜校课程" in (await gw.say(user, "夜校有什么课")).text
    evening = await gw.say(user, "有晚上的吗")
    assert evening.text.startswith("晚上的夜校课程"), evening.text
    assert _hours_listed(evening.text) and all(h >= 18 for h in _hours_listed(evening.text)), evening.text
    afternoon = await gw.say("o-part-of-day-2", "周末下午的课")
    assert afternoon.text.startswith("周末下午的夜校课程"), afternoon.text
    assert _hours_listed(afternoon.text) and all(12 <= h < 18 for h in _hours_listed(afternoon.text))
    asked = await gw.say("o-part-of-day-3", "晚上有课吗")
    assert asked.text.startswith("晚上的夜校课程"), asked.text
    morning = await gw.say("o-part-of-day-4", "上午的课")
    if morning.text.startswith("上午的夜校课程"):  # the demo's try-now class may start in the morning
        assert all(h < 12 for h in _hours_listed(morning.text)), morning.text
    else:
        assert morning.text.startswith("上午暂时没有可以报名的夜校课程"), morning.text


async def test_the_saved_street_comes_first(gw: Gateway) -> None:
    await gw.say("o-buji", "设置街道")
    await gw.say("o-buji", "布吉")
    for said in ("夜校有什么课", "附近的夜校", "离我近的课"):
        listed = await gw.say("o-buji", said)
        lines = [line for line in listed.text.splitlines() if line.startswith("<a")]
        assert "｜布吉街道青年之家｜" in lines[0] and "｜布吉街道青年之家｜" in lines[1], (said, lines)


async def test_a_full_demo_class_offers_the_waitlist(gw: Gateway) -> None:
    async with gw.db.session() as s:
        cls = (await s.execute(text("SELECT id FROM course_classes WHERE ref = 'DEMO-CF-01'"))).scalar_one()
    detail = await gw.say("o-browse", f"课程#{cls}")
    assert "名额：已满，0人在候补" in detail.text and "排候补</a>" in detail.text, detail.text


async def _themes(gw: Gateway) -> str:
    async with gw.db.session() as s:
        return "、".join((await s.execute(text("SELECT name FROM course_themes ORDER BY id"))).scalars())
