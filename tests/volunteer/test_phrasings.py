"""What young people really type about volunteering: each reads the answer the command would give."""

from __future__ import annotations

import pytest

from tests.volunteer.conftest import Site

USER = "o_volunteer_phrase"


@pytest.mark.parametrize("said", ["志愿者", "义工", "志愿者呀", "做义工", "志原者活动", "报名志愿活动"])
async def test_volunteering_alone_lists_the_projects(site: Site, said: str) -> None:
    answer = await site.gw.say(USER, said)
    assert answer.text.startswith(site.gw.expected("volunteer.heading_all") + "\n1. 坂田社区环境清洁"), answer.text


@pytest.mark.parametrize(
    ("said", "key", "params"),
    [
        ("有没有周末的活动", "volunteer.heading_when", {"when": "周末"}),
        ("这周有什么活动吗", "volunteer.heading_when", {"when": "本周"}),
        ("坂田有什么活动", "volunteer.heading_street", {"street": "坂田"}),
        ("附近有什么活动", "volunteer.ask_location", {}),
    ],
)
async def test_activities_with_a_when_or_a_where_are_the_projects(
    site: Site, said: str, key: str, params: dict[str, str]
) -> None:
    await site.gw.dialog(USER, [(said, key, params)])


@pytest.mark.parametrize(
    ("said", "key"),
    [
        ("怎么当志愿者", "faq.volunteer.join"),
        ("我想做义工", "faq.volunteer.join"),
        ("时长怎么查啊", "faq.volunteer.hours"),
    ],
)
async def test_how_questions_get_their_answer(site: Site, said: str, key: str) -> None:
    await site.gw.dialog(USER, [(said, key)])


@pytest.mark.parametrize("said", ["我的志愿时长是多少", "我几星了", "查一下我的时长", "我有多少时长？", "我的时长呢"])
async def test_asking_for_ones_hours_shows_them(site: Site, said: str) -> None:
    hours = {"first": "100", "first_name": "一星志愿者"}
    await site.gw.dialog(USER, [(said, "volunteer.hours_none", hours)])


@pytest.mark.parametrize("said", ["我报名的志愿活动", "我报了哪些志愿项目", "我的志愿活动呢"])
async def test_asking_for_ones_signups_shows_them(site: Site, said: str) -> None:
    await site.gw.dialog(USER, [(said, "volunteer.signups_none")])
