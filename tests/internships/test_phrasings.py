"""What young people really type about 展翅计划, with the demo posts loaded: each reads the right answer,
and words meant for someone else are not taken for a search."""

from __future__ import annotations

import pytest

from tests.harness import Gateway

USER = "o-intern-phrase"


@pytest.mark.parametrize("said", ["展翅计划是什么", "展翅计划是啥？"])
async def test_what_the_programme_is(gw: Gateway, said: str) -> None:
    await gw.dialog(USER, [(said, "faq.internship.about")])


@pytest.mark.parametrize("said", ["我投了哪些", "我申请了哪些实习", "我投的简历呢", "我的申请呢"])
async def test_asking_for_ones_applications(gw: Gateway, said: str) -> None:
    await gw.dialog(USER, [(said, "internships.no_applications")])


@pytest.mark.parametrize("said", ["找工作", "我想找工作", "几时有实习", "什么时候有实习岗位"])
async def test_looking_for_work_shows_the_latest_posts(gw: Gateway, said: str) -> None:
    answer = await gw.say(USER, said)
    assert answer.text.startswith("最新的实习岗位，共 100+ 个：\n1. "), answer.text


@pytest.mark.parametrize(
    ("said", "same_as"),
    [
        ("我想投诉", "联系我们"),
        ("你们电话多少", "联系我们"),
        ("有什么功能", "帮助"),
        ("你能干啥", "帮助"),
        ("？？", "帮助"),
        ("别提醒我了", "暂停提醒"),
        ("不要再提醒了", "暂停提醒"),
        ("签到码是多少", "怎么签到"),
        ("志愿者可以带家属吗", "志愿者可以带家属吗"),
        ("夜校可以带朋友一起去吗", "夜校可以带朋友一起去吗"),
    ],
)
async def test_words_meant_for_others_are_not_a_search(gw: Gateway, said: str, same_as: str) -> None:
    answer = await gw.say(USER, said)
    assert "相关岗位" not in answer.text, answer.text
    assert answer.text == (await gw.say(f"{USER}-2", same_as)).text


async def test_a_search_is_heard_while_a_volunteer_project_is_open(gw: Gateway) -> None:
    """「周末的志愿活动」, 「1」 (a project's detail, waiting for 「报名 序号」), then 「实习岗位」 or
    「设计」: the search answers (it heard the FAQ's guess and the fallback before)."""
    from pathlib import Path

    from bot.db.volunteer import demo as volunteer_demo

    folder = Path(gw.services.settings.content_dir or "content") / "demo"
    await volunteer_demo.load(gw.db, folder, tz=gw.services.tz, now=gw.services.local_now())
    listing = await gw.say(USER, "周末的志愿活动")
    assert listing.text.startswith("周末的志愿项目"), listing.text
    detail = await gw.say(USER, "1")
    assert "班次" in detail.text, detail.text
    found = await gw.say(USER, "实习岗位")
    assert found.text.startswith("最新的实习岗位，共 100+ 个：\n1. "), found.text
    await gw.say(USER, "周末的志愿活动")
    await gw.say(USER, "1")
    design = await gw.say(USER, "设计")
    assert "设计" in design.text and "1. " in design.text, design.text
    assert not design.text.startswith(gw.expected("fallback.text")[:8]), design.text


@pytest.mark.parametrize("said", ["我想问一下设计", "请问设计"])
async def test_a_question_that_names_a_posts_word_is_not_a_search(gw: Gateway, said: str) -> None:
    """「设计」 alone finds posts; 「我想问一下设计」 asks something: the FAQ's fallback answers it."""
    assert "1. " in (await gw.say(f"{USER}-words", "设计")).text
    answer = await gw.say(USER, said)
    assert "1. " not in answer.text and "相关岗位" not in answer.text, answer.text


async def test_words_that_only_partly_match_posts_are_no_search_nobody_asked_for(gw: Gateway) -> None:
    """「修改密码」 names no internship: posts with one of its words are no answer (a search the
    person asked for, with 实习 or while browsing, may still be loosened)."""
    answer = await gw.say(USER, "修改密码")
    assert "1. " not in answer.text and "相关岗位" not in answer.text, answer.text
    asked = await gw.say(f"{USER}-asked", "设计 修改 实习")
    assert "1. " in asked.text, asked.text
    # No post has both 设计 and 无人机: asked for with 实习, the posts with one of them are shown.
    loosened = await gw.say(f"{USER}-asked", "设计 无人机 实习")
    assert loosened.text.startswith("找到") and gw.expected("internships.relaxed") in loosened.text, loosened.text
