"""Crisis words: caught before everything (inside flows too), answered warmly with 12355 and 110/120,
put in the staff inbox as urgent; jokes that contain a crisis phrase are not crises."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.db.care_tables import CareMessage, CareThread
from bot.db.models import User
from handlers.care.config import care_content
from handlers.care.crisis import LOW_MOOD, CrisisWords
from tests.conftest import GatewayFactory, shared_content
from tests.harness import Gateway

EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b50\u2b55]")


@pytest.fixture(scope="module")
def words() -> CrisisWords:
    content, _ = shared_content()
    return CrisisWords(care_content(content))


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("我不想活了", "self_harm"),
        ("不 想 活 了", "self_harm"),
        ("活着没意思，想死", "self_harm"),
        ("我想自杀", "self_harm"),
        ("今天又割腕了", "self_harm"),
        ("我好想死我真的撑不住了", "self_harm"),
        ("好想消失", "self_harm"),
        ("考试压力好大，撑不住了", LOW_MOOD),
        ("我爸打我，不让我回家", "abuse"),
        ("被家暴了怎么办", "abuse"),
        ("在学校被霸凌", "bullying"),
        ("班上有人霸凌我", "bullying"),
        ("我被骗进传销了", "danger"),
        ("同学天天欺负我", "bullying"),
        ("救命！有人跟踪我", "danger"),
        ("被欺负得不想活了", "self_harm"),  # two categories: self-harm comes first
        ("心情不好", LOW_MOOD),
        ("累死了", LOW_MOOD),
    ],
)
def test_crisis_phrases_are_caught(words: CrisisWords, text: str, category: str) -> None:
    assert words.classify(text) == category


@pytest.mark.parametrize(
    "text",
    [
        "笑死我了",
        "这个课想死你们了",
        "想死你了",
        "饿死了",
        "热死了",
        "吓死我了",
        "跳楼价清仓",
        "我不想活动了",
        "夜校怎么报名",
        "志愿时长怎么查",
        "杀毒软件推荐",
        "这道题是救命稻草",
        "哈哈哈哈",
        "今天被打了一针疫苗",
        "怎么预防校园霸凌",
        "传销是违法的吗",
        "学校有预防性侵的讲座吗",
    ],
)
def test_jokes_and_everyday_words_are_not_crises(words: CrisisWords, text: str) -> None:
    assert words.classify(text) in (None, LOW_MOOD)


async def _threads(gateway: Gateway, user: str) -> list[tuple[CareThread, list[str]]]:
    async with gateway.db.session() as s:
        threads = (
            (
                await s.execute(
                    select(CareThread).join(User, User.id == CareThread.user_id).where(User.external_id == user)
                )
            )
            .scalars()
            .all()
        )
        found = []
        for t in threads:
            query = select(CareMessage.text).where(CareMessage.thread_id == t.id).order_by(CareMessage.id)
            found.append((t, list((await s.execute(query)).scalars().all())))
    return found


async def test_a_crisis_gets_a_serious_answer_and_an_urgent_inbox_item(gateway: Gateway) -> None:
    hours = care_content(gateway.services.content).office.hours
    answer = await gateway.say("o-care-1", "我不想活了")
    assert answer.text == gateway.expected("care.crisis_self_harm", hours=hours)
    for must in ("12355", "110", "120"):
        assert must in answer.text
    assert not EMOJI.search(answer.text) and "菜单" not in answer.text
    # What the person writes next reaches the same thread.
    more = await gateway.say("o-care-1", "我在学校一个朋友都没有")
    assert more.text == gateway.expected("care.inbox_added")
    [(thread, texts)] = await _threads(gateway, "o-care-1")
    assert thread.urgent and thread.reason == "self_harm" and thread.status == "open"
    assert texts == ["我不想活了", "我在学校一个朋友都没有"]
    async with gateway.db.session() as s:
        first = (await s.execute(select(CareMessage).order_by(CareMessage.id).limit(1))).scalar_one()
    assert first.context["via"] == "crisis"


async def test_crisis_words_are_heard_inside_a_flow(gateway: Gateway) -> None:
    hours = care_content(gateway.services.content).office.hours
    await gateway.say("o-care-2", "设置街道")
    answer = await gateway.say("o-care-2", "我爸打我")
    assert answer.text == gateway.expected("care.crisis_abuse", hours=hours)
    [(thread, texts)] = await _threads(gateway, "o-care-2")
    assert thread.urgent and thread.reason == "abuse" and texts == ["我爸打我"]


async def test_a_crisis_after_a_plain_message_makes_the_thread_urgent(gateway: Gateway) -> None:
    hours = care_content(gateway.services.content).office.hours
    await gateway.dialog("o-care-3", [("人工", "care.inbox_ask", {"hours": hours})])
    await gateway.dialog("o-care-3", [("想问下志愿证书的事", "care.inbox_saved", {"hours": hours})])
    [(thread, _)] = await _threads(gateway, "o-care-3")
    assert not thread.urgent and thread.reason == "message"
    await gateway.dialog("o-care-3", [("其实我在学校被霸凌", "care.crisis_bullying", {"hours": hours})])
    [(thread, texts)] = await _threads(gateway, "o-care-3")
    assert thread.urgent and thread.reason == "bullying"
    assert texts == ["想问下志愿证书的事", "其实我在学校被霸凌"]


async def test_false_positives_get_no_crisis_answer_and_no_inbox_item(gateway: Gateway) -> None:
    for text in ("笑死我了", "这个课想死你们了", "累死了"):
        answer = await gateway.say("o-care-4", text)
        assert "110" not in answer.text, text
    assert await _threads(gateway, "o-care-4") == []
    assert (await gateway.say("o-care-4", "笑死我了")).text == gateway.expected("care.laugh")
    assert (await gateway.say("o-care-4", "累死了")).text == gateway.expected("care.low_mood")


async def test_a_crisis_is_answered_while_the_database_is_down(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(database_url="postgresql+asyncpg://postgres@127.0.0.1:9/down")
    hours = care_content(gateway.services.content).office.hours
    answer = await gateway.say("o-care-5", "我想自杀")
    assert answer.text == gateway.expected("care.crisis_self_harm", hours=hours)


async def test_a_second_crisis_message_gets_a_short_answer_and_help_leaves_the_flow(gateway: Gateway) -> None:
    hours = care_content(gateway.services.content).office.hours
    await gateway.dialog(
        "o-care-6",
        [
            ("活着没意思", "care.crisis_self_harm", {"hours": hours}),
            ("真的想死", "care.crisis_again"),
            ("帮助", "help.main"),
            ("被人打了", "care.crisis_abuse", {"hours": hours}),
        ],
    )
    [(thread, texts)] = await _threads(gateway, "o-care-6")
    assert thread.reason == "self_harm" and texts == ["活着没意思", "真的想死", "被人打了"]


async def test_a_crisis_is_answered_while_redis_is_down(make_gateway: GatewayFactory) -> None:
    # Nothing listens on port 9: every store call fails, the message is answered without state.
    gateway = await make_gateway(redis_url="redis://127.0.0.1:9/0")
    hours = care_content(gateway.services.content).office.hours
    answer = await gateway.say("o-care-7", "我想自杀")
    assert answer.text == gateway.expected("care.crisis_self_harm", hours=hours)
    [(thread, texts)] = await _threads(gateway, "o-care-7")
    assert thread.urgent and texts == ["我想自杀"]


async def test_a_crisis_in_traditional_is_answered_in_traditional(gateway: Gateway) -> None:
    from bot.text import to_traditional

    hours = care_content(gateway.services.content).office.hours
    answer = await gateway.say("o-care-8", "我真的不想活了，好想自殺")
    assert answer.text == to_traditional(gateway.expected("care.crisis_self_harm", hours=hours))
    [(thread, texts)] = await _threads(gateway, "o-care-8")
    assert thread.hant and texts == ["我真的不想活了，好想自杀"]
