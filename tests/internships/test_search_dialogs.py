"""Searching by chat: free words, filters from the words, paging, detail, traditional input, nothing found."""

from __future__ import annotations

import re

from bot.text import to_traditional
from tests.harness import Gateway

USER = "o-intern-search"


def numbered(reply: str) -> list[str]:
    """The titles of a result list, in order (「1. 标题｜公司（…）」)."""
    return re.findall(r"^\d+\. ([^｜]+)｜", reply, flags=re.M)


async def test_free_words_with_a_street_find_its_posts_first(gw: Gateway) -> None:
    answer = await gw.say(USER, "坂田 有没有 数据分析 的实习")
    assert answer.text.startswith("找到 3 个「坂田 · 数据分析」相关岗位"), answer.text
    assert numbered(answer.text) == ["BI数据分析实习生", "BI数据分析实习生", "BI实习生"]
    assert "（坂田 · " in answer.text and "回复序号看详情" in answer.text


async def test_the_menus_own_examples_find_posts(gw: Gateway) -> None:
    design = await gw.say(USER, "设计")
    assert design.text.startswith("找到 ") and "「设计」相关岗位" in design.text, design.text
    assert len(numbered(design.text)) == 5
    finance = await gw.say("o-other", "财务")
    assert "「财务」相关岗位" in finance.text
    assert "会计助理（实习）" in numbered(finance.text)  # 会计 is found by 财务 (synonyms)


async def test_synonyms_find_posts_written_in_other_words(gw: Gateway) -> None:
    answer = await gw.say(USER, "美工")
    titles = numbered(answer.text)
    assert titles[0].startswith("美工") and any("设计" in t for t in titles), titles


async def test_filters_from_the_words_round_season_and_pay(gw: Gateway) -> None:
    hmt = await gw.say(USER, "港澳台专场 设计")
    assert "「港澳台专场 · 设计」" in hmt.text
    count = len(numbered(hmt.text))
    for number in range(1, count + 1):
        detail = await gw.say(USER, str(number))
        assert "· 港澳台专场" in detail.text, detail.text
    paid = await gw.say("o-paid", "带薪 暑假 开发")
    assert "「暑假 · 有报酬 · 开发」" in paid.text
    assert "无薪" not in paid.text and "暑假" in paid.text


async def test_paging_five_at_a_time_then_no_more(gw: Gateway) -> None:
    first = await gw.say(USER, "设计")
    total = int(re.search(r"找到 (\d+) 个", first.text).group(1))  # type: ignore[union-attr]
    assert total > 10 and "回复「更多」看下一页" in first.text
    second = await gw.say(USER, "更多")
    assert second.text.startswith(f"第 2 页（共 {total} 个）")
    assert re.findall(r"^(\d+)\. ", second.text, flags=re.M) == ["6", "7", "8", "9", "10"]
    for _ in range(20):
        last = await gw.say(USER, "更多")
        if last.text == gw.expected("internships.no_more"):
            break
    else:
        raise AssertionError("paging never ended")


async def test_a_number_opens_the_detail(gw: Gateway) -> None:
    await gw.say(USER, "坂田 数据分析")
    detail = await gw.say(USER, "1")
    assert detail.text.startswith("BI数据分析实习生\n🏢 深圳市")
    for part in ("📍 坂田街道", "报名截止", "💰 ", "招 ", "🎓 专业：", "回复「申请」投递这个岗位"):
        assert part in detail.text, part
    wrong = await gw.say(USER, "9")
    assert wrong.text == gw.expected("internships.bad_number", number=9, total=3)


async def test_traditional_characters_find_the_same_posts(gw: Gateway) -> None:
    simplified = await gw.say("o-simplified", "寒假 会计实习")
    traditional = await gw.say("o-traditional", "寒假 會計實習")
    # The same posts, told in traditional to the one who wrote traditional.
    assert numbered(traditional.text) == [to_traditional(t) for t in numbered(simplified.text)] != []
    assert to_traditional("「寒假 · 会计」") in traditional.text


async def test_nothing_found_says_what_was_understood_and_shows_the_latest(gw: Gateway) -> None:
    answer = await gw.say(USER, "坪地 数据分析 实习")
    assert answer.text.startswith("没找到「坪地 · 数据分析」的岗位"), answer.text
    assert "· 去掉「坪地」能找到 " in answer.text and "回复「数据分析」试试" in answer.text
    assert "换个说法试试：" in answer.text and "回复「订阅 坪地 数据分析」" in answer.text
    assert "先看看最新的岗位：" in answer.text and len(numbered(answer.text)) == 5
    detail = await gw.say(USER, "1")  # the latest posts are numbered like results
    assert "🏢 " in detail.text


async def test_unknown_words_without_internship_words_get_the_usual_fallback(gw: Gateway) -> None:
    answer = await gw.say(USER, "今天天气怎么样呢")
    assert answer.text.startswith(gw.expected("fallback.text"))


async def test_questions_about_the_rules_still_get_the_faq(gw: Gateway) -> None:
    answer = await gw.say(USER, "实习岗位怎么投递")
    assert answer.text == gw.expected("faq.internship.apply")
    await gw.say(USER, "设计")
    other = await gw.say(USER, "夜校怎么报名")  # while browsing, another programme's question
    assert not other.text.startswith("找到") and not other.text.startswith("没找到")


async def test_the_menu_button_opens_the_programme(gw: Gateway) -> None:
    answer = await gw.event(USER, "CLICK", "INTERNSHIP")
    assert answer.text == gw.expected("internships.menu")
    found = await gw.say(USER, "新能源")
    assert "「新能源」相关岗位" in found.text


async def test_a_post_imported_elsewhere_is_found_at_once(gw: Gateway) -> None:
    """Another process's write (here: a second connection, as another worker has) is searched at once."""
    from bot.db import Database
    from bot.internships.importer import write_posts
    from tests.conftest import PG_URL, shared_content
    from tests.internships.support import demo_posts

    _, analyzer = shared_content()
    post = demo_posts(gw.services.local_now().date())[0]
    fresh = type(post)(**{**{k: getattr(post, k) for k in post.__dataclass_fields__}, "post_id": "ZC2026-900",
                          "title": "无人机航拍实习生", "status": "open"})  # fmt: skip
    other = Database.from_url(PG_URL)
    try:
        await write_posts(other, analyzer, [fresh], gw.services.now())
    finally:
        await other.close()
    answer = await gw.say(USER, "无人机航拍 实习")
    assert numbered(answer.text)[0] == "无人机航拍实习生"


async def test_words_no_post_has_while_browsing_are_not_a_search(gw: Gateway) -> None:
    await gw.say(USER, "设计")
    weather = await gw.say(USER, "天气真好呀")
    assert weather.text.startswith(gw.expected("fallback.text"))
    # Politeness with a particle is politeness, not a search either.
    assert (await gw.say(USER, "谢谢你呀")).text == gw.expected("care.thanks")
    from dataclasses import replace

    from bot.internships.importer import write_posts
    from tests.conftest import shared_content
    from tests.internships.support import demo_posts

    _, analyzer = shared_content()
    post = demo_posts(gw.services.local_now().date())[0]
    closed = replace(post, post_id="ZC2026-901", title="无人机航拍实习生", status="closed")
    await write_posts(gw.db, analyzer, [closed], gw.services.now())
    await gw.say(USER, "设计")
    known = await gw.say(USER, "无人机航拍")  # only a closed post has it: a search that found nothing
    assert known.text.startswith("没找到「无人机 · 航拍」的岗位"), known.text


async def test_a_question_for_staff_while_browsing_is_kept_not_searched(gw: Gateway) -> None:
    """「周末」 is a filter, but 「你们周末有人值班吗」 asks the office, and no post has 值班."""
    from sqlalchemy import text as sql

    await gw.say(USER, "设计")
    asked = await gw.say(USER, "你们周末有人值班吗？")
    assert asked.text.startswith(gw.expected("fallback.text")), asked.text
    async with gw.db.session() as s:
        kept = (await s.execute(sql("SELECT text FROM care_unanswered"))).scalars().all()
    assert kept == ["你们周末有人值班吗？"]
    # A question made of filters alone still searches the posts being browsed.
    await gw.say(USER, "设计")
    weekend = await gw.say(USER, "有周末的吗")
    assert weekend.text.startswith(("找到", "没找到")) and "学期中" in weekend.text, weekend.text


async def test_results_left_for_half_an_hour_go_quietly(gw: Gateway) -> None:
    await gw.say(USER, "坂田 数据分析")
    assert (await gw.say(USER, "1")).text.startswith("BI数据分析实习生")
    gw.services.clock.advance(31 * 60)  # type: ignore[attr-defined]
    later = await gw.say(USER, "1")
    assert not later.text.startswith("BI数据分析实习生") and "超时" not in later.text
    again = await gw.say(USER, "坂田 数据分析")
    assert again.text.startswith("找到 3 个")  # no note about an expired list either


async def test_an_empty_catalogue_says_so_and_offers_a_subscription(gateway: Gateway) -> None:
    """No open post at all (before the first import): 「实习岗位」 and a search both say so, kindly."""
    assert (await gateway.say("o-intern-empty", "实习岗位")).text == gateway.expected("internships.nothing_at_all")
    assert (await gateway.say("o-intern-empty", "设计实习")).text == gateway.expected("internships.nothing_at_all")
