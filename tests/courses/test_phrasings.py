"""What young people really type to the night school, on the demo data: each reads the right answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.content import DEFAULT_DIR
from bot.db.courses.demo import load_courses
from bot.db.demo import load_users
from bot.text import to_traditional
from tests.conftest import GatewayFactory
from tests.harness import Gateway

DEMO = Path(DEFAULT_DIR) / "demo"


@pytest.fixture
async def gw(make_gateway: GatewayFactory) -> Gateway:
    gateway = await make_gateway()
    await load_users(gateway.db, DEMO)
    await load_courses(gateway.db, DEMO)  # the night school's demo only: the other programmes' take seconds
    return gateway


@pytest.mark.parametrize(
    ("said", "heading"),
    [
        ("夜校的课表发一下", "近期的夜校课程"),
        ("夜校有啥课", "近期的夜校课程"),
        ("夜校有什么课呀？", "近期的夜校课程"),
        ("夜校课程表", "近期的夜校课程"),
        ("最近有什么课程吗", "近期的夜校课程"),
        ("有啥好玩的课", "近期的夜校课程"),
        ("有没有适合零基础的课", "近期的夜校课程"),
        ("夜校有什麼課", to_traditional("近期的夜校课程")),
        ("夜校有咩课", "近期的夜校课程"),
        ("夜小有什么课", "近期的夜校课程"),
        ("有冇夜校", "近期的夜校课程"),
        ("有没有摄影课啊", "手机摄影的夜校课程"),
        ("书法课还有位置吗", "国风书法的夜校课程"),
        ("我想学咖啡", "咖啡拉花的夜校课程"),
        # A day or a week: its list, or the line that it has none.
        ("今晚有课吗", "今天"),
        ("下周有课吗？", "下周"),
        ("这周末有啥课", "周末"),
    ],
)
async def test_asking_for_classes_shows_them(gw: Gateway, said: str, heading: str) -> None:
    answer = await gw.say("o-phrase", said)
    assert answer.text.startswith(heading), f"{said!r}\n{answer.text}"
    assert "：。" not in answer.text and "相关" not in answer.text, answer.text


@pytest.mark.parametrize(
    "said", ["我的课", "我报了哪些课", "我报的课呢", "我报了什么课？", "我报名的课什么时候上", "我的课在哪里"]
)
async def test_asking_for_ones_own_classes(gw: Gateway, said: str) -> None:
    await gw.dialog("o-phrase-mine", [(said, "courses.mine_empty")])


@pytest.mark.parametrize(
    ("said", "key"),
    [
        ("怎么报夜校", "faq.night_school.signup"),
        ("夜校是免费的吗", "faq.night_school.cost"),
        ("我想报名夜校，要怎样做？", "faq.night_school.signup"),
        ("报名夜校要什么流程", "faq.night_school.signup"),
    ],
)
async def test_questions_about_the_night_school_get_their_answer(gw: Gateway, said: str, key: str) -> None:
    await gw.dialog("o-phrase-faq", [(said, key)])


async def test_before_any_term_is_imported_nothing_dangles(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway()  # no themes, no classes
    for said in ("钢琴课", "摄影课", "夜校的课表发一下"):
        answer = await gateway.say("o-empty", said)
        assert answer.text == gateway.expected("courses.none_yet"), f"{said!r}\n{answer.text}"
    menu = await gateway.event("o-empty", "CLICK", "NIGHT_SCHOOL")
    assert menu.text == gateway.expected("courses.menu_empty")
