"""Help, the menu and small talk as young people type them: particles, question marks, 「能干啥」."""

from __future__ import annotations

import pytest

from handlers.care.config import care_content
from tests.harness import Gateway


@pytest.mark.parametrize(
    ("said", "key"),
    [
        ("你能干啥", "help.main"),
        ("有什么功能", "help.main"),
        ("你都能干啥？", "help.main"),
        ("帮助呀", "help.main"),
        ("菜单呢", "help.main"),
        ("？？", "help.main"),
        ("谢谢你呀", "care.thanks"),
        ("嗯嗯好的", "care.ok"),
        ("取消吧", "care.nothing_to_cancel"),
        ("更多", "system.no_more"),
        ("客服", "care.inbox_ask"),
    ],
)
async def test_what_people_type_reaches_its_answer(gateway: Gateway, said: str, key: str) -> None:
    office = care_content(gateway.services.content).office
    hours = {"hours": office.hours} if key == "care.inbox_ask" else {}
    await gateway.dialog("o-care-phrase", [(said, key, hours)])


@pytest.mark.parametrize("said", ["你们电话多少", "电话是多少", "怎么联系你们", "我想投诉"])
async def test_asking_how_to_reach_us(gateway: Gateway, said: str) -> None:
    answer = await gateway.say("o-care-phrase", said)
    assert answer.text == (await gateway.say("o-care-phrase-2", "联系我们")).text
