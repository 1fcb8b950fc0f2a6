"""Applying by chat: the profile collected once, reused with confirmation, a second application and a
closed post refused kindly; the database holds the rule under concurrent requests."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import text

from bot.db.internships import people
from bot.db.internships.people import Profile
from bot.db.users import ensure_user
from bot.internships.importer import write_posts
from tests.conftest import shared_content
from tests.harness import Gateway
from tests.internships.support import demo_posts

USER = "o-intern-apply"


async def _applications(gw: Gateway, user: str) -> list[tuple[str, str, str, int, str]]:
    async with gw.db.session() as s:
        rows = await s.execute(
            text("""
SELECT p.title, a.name, a.mobile, a.graduation_year, a.status FROM internship_applications a
JOIN internship_posts p ON p.id = a.post_id JOIN users u ON u.id = a.user_id
WHERE u.external_id = :u ORDER BY a.id
"""),
            {"u": user},
        )
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


async def _close(gw: Gateway, title: str, **change: object) -> None:
    """Re-import the post of this title as closed (the cadre's file changed), or with ``change``."""
    _, analyzer = shared_content()
    posts = [p for p in demo_posts(gw.services.local_now().date()) if p.title == title]
    changed = [replace(p, **(change or {"status": "closed"})) for p in posts]  # type: ignore[arg-type]
    await write_posts(gw.db, analyzer, changed, gw.services.now())


async def test_first_application_collects_what_employers_need(gw: Gateway) -> None:
    await gw.say(USER, "坂田 数据分析")
    await gw.say(USER, "1")
    await gw.dialog(
        USER,
        [
            ("申请", "internships.ask_name", {"title": "BI数据分析实习生"}),
            ("张", "internships.bad_name"),
            ("张小龙", "internships.ask_mobile", {"name": "张小龙"}),
            ("12345", "internships.bad_mobile"),
            ("138 0013 8000", "internships.ask_school"),
            ("深圳大学", "internships.ask_major"),
            ("统计学", "internships.ask_year", {"example": 2027}),
            ("明年", "internships.bad_year", {"example": 2027}),
        ],
    )
    done = await gw.say(USER, "2027")
    assert done.text.startswith("投递成功✅ 已记录你对「BI数据分析实习生」（深圳市")
    assert "@example.com" in done.text
    assert await _applications(gw, USER) == [("BI数据分析实习生", "张小龙", "13800138000", 2027, "submitted")]
    mine = await gw.say(USER, "我的申请")
    assert mine.text.startswith("你的投递记录：\n1. BI数据分析实习生｜") and "12月1日投递 · 已投递" in mine.text


async def test_the_year_of_study_is_worked_out_and_asked_back(gw: Gateway) -> None:
    """「大三」 in December 2026 graduates in 2028: asked back, sent only on 「对」; 「27届」 is 2027."""
    await gw.say(USER, "坂田 数据分析")
    await gw.say(USER, "1")
    for said in ("申请", "张小龙", "13800138000", "深圳大学", "统计学"):
        await gw.say(USER, said)
    await gw.dialog(
        USER,
        [
            ("我大三", "internships.year_guess", {"grade": "大三", "year": 2028}),
            ("大一", "internships.year_guess", {"grade": "大一", "year": 2030}),
        ],
    )
    assert await _applications(gw, USER) == [], "nothing is sent on a guess"
    done = await gw.say(USER, "对")
    assert done.text.startswith("投递成功✅"), done.text
    assert await _applications(gw, USER) == [("BI数据分析实习生", "张小龙", "13800138000", 2030, "submitted")]
    other = f"{USER}-27"
    await gw.say(other, "坂田 数据分析")
    await gw.say(other, "1")
    for said in ("申请", "李青", "13900139000", "深圳大学", "统计学", "27届"):
        await gw.say(other, said)
    assert [a[3] for a in await _applications(gw, other)] == [2027]


async def test_the_profile_is_reused_with_confirmation_and_twice_is_refused(gw: Gateway) -> None:
    await _apply_first(gw, USER)
    await gw.say(USER, "2")  # still browsing the same results
    confirm = await gw.say(USER, "申请")
    assert confirm.text.startswith("投递「BI数据分析实习生」将使用这些信息：\n姓名：李青\n手机：13900139000")
    done = await gw.say(USER, "确认")
    assert done.text.startswith("投递成功✅ 已记录你对「BI数据分析实习生」")
    assert len(await _applications(gw, USER)) == 2
    await gw.say(USER, "1")
    again = await gw.say(USER, "申请")
    assert again.text == gw.expected("internships.already_applied", date="12月1日", title="BI数据分析实习生")
    assert len(await _applications(gw, USER)) == 2


async def test_edit_asks_again_and_cancel_keeps_browsing(gw: Gateway) -> None:
    await _apply_first(gw, USER)
    await gw.say(USER, "3")
    await gw.say(USER, "申请")
    edit = await gw.say(USER, "修改")
    assert edit.text == gw.expected("internships.ask_name", title="BI实习生")
    cancelled = await gw.say(USER, "取消")
    assert cancelled.text == gw.expected("system.cancelled")
    back = await gw.say(USER, "3")  # the results are still there
    assert back.text.startswith("BI实习生\n")
    assert len(await _applications(gw, USER)) == 1


async def test_a_closed_post_says_so(gw: Gateway) -> None:
    await gw.say(USER, "坂田 数据分析")
    await _close(gw, "BI实习生")
    detail = await gw.say(USER, "3")
    assert detail.text.startswith("BI实习生\n") and gw.expected("internships.closed_hint") in detail.text
    refused = await gw.say(USER, "申请")
    assert refused.text == gw.expected("internships.closed", title="BI实习生")
    assert await _applications(gw, USER) == []


async def test_a_post_closing_while_the_person_confirms_is_refused(gw: Gateway) -> None:
    await _apply_first(gw, USER)
    await gw.say(USER, "3")
    await gw.say(USER, "申请")
    await _close(gw, "BI实习生")
    refused = await gw.say(USER, "确认")
    assert refused.text == gw.expected("internships.closed", title="BI实习生")
    assert len(await _applications(gw, USER)) == 1


async def test_an_expired_post_is_refused(gw: Gateway) -> None:
    await gw.say(USER, "坂田 数据分析")
    await gw.say(USER, "1")
    yesterday = gw.services.local_now().date() - timedelta(days=1)
    await _close(gw, "BI数据分析实习生", deadline=yesterday)  # open, but its deadline has passed
    refused = await gw.say(USER, "申请")
    assert refused.text == gw.expected("internships.closed", title="BI数据分析实习生")


async def test_apply_without_a_post_explains(gw: Gateway) -> None:
    answer = await gw.say(USER, "申请")
    assert answer.text == gw.expected("internships.no_post")


async def test_many_people_apply_at_once_and_one_person_only_once(gw: Gateway) -> None:
    """Real concurrency: twenty people confirm together; one person's ten racing inserts make one row."""
    users = [f"o-crowd-{i}" for i in range(20)]
    for user in users:
        await _apply_first(gw, user, first=False)
    answers = await asyncio.gather(*(gw.say(user, "确认") for user in users))
    assert all(a.text.startswith("投递成功✅") for a in answers)
    async with gw.db.session() as s:
        post = (await s.execute(text("SELECT id FROM internship_posts WHERE post_id = 'ZC2024-127'"))).scalar_one()
        user_id = await ensure_user(s, "wechat", "o-racer", gw.services.now())
    profile = Profile("王五", "13700137000", "深圳技术大学", "软件工程", 2026)
    today = gw.services.local_now().date()

    async def once() -> str:
        async with gw.db.session() as s:
            return await people.apply(s, user_id, post, profile, today, gw.services.now())

    outcomes = await asyncio.gather(*(once() for _ in range(10)))
    assert sorted(outcomes) == ["applied"] + ["duplicate"] * 9
    async with gw.db.session() as s:
        count = await s.execute(text("SELECT count(*) FROM internship_applications WHERE post_id = :p"), {"p": post})
        assert count.scalar_one() == 21


async def _apply_first(gw: Gateway, user: str, *, first: bool = True) -> None:
    """Search, open result 1 (first) or 2, apply with a full profile; ``first=False`` stops at the
    confirmation of a second application (the profile saved by the first)."""
    await gw.say(user, "坂田 数据分析")
    await gw.say(user, "1")
    for said in ("申请", "李青", "13900139000", "香港中文大学（深圳）", "数据科学与大数据技术", "2026"):
        await gw.say(user, said)
    if not first:
        await gw.say(user, "2")
        await gw.say(user, "申请")


async def test_a_question_inside_the_application_is_answered_and_the_form_waits(gw: Gateway) -> None:
    """A command word or a question typed for the name, the school or the year is answered as
    anywhere (it was taken for the name or the school), and the form goes on where it was."""
    paused = gw.expected("system.flow_paused", flow=gw.expected("flows.internship_apply"))
    await gw.say(USER, "坂田 数据分析")
    await gw.say(USER, "1")
    await gw.dialog(USER, [("申请", "internships.ask_name", {"title": "BI数据分析实习生"})])
    for said in ("我的申请", "我的时长"):
        answer = await gw.say(USER, said)
        assert paused in answer.text, f"{said}: {answer.text}"
    await gw.dialog(
        USER,
        [("张小龙", "internships.ask_mobile", {"name": "张小龙"}), ("138 0013 8000", "internships.ask_school")],
    )
    answer = await gw.say(USER, "实习有工资吗？")
    assert paused in answer.text, answer.text
    await gw.dialog(USER, [("深圳大学", "internships.ask_major")])
    # A command said with what it acts on is no major: it subscribes, and the form still waits.
    answer = await gw.say(USER, "订阅 设计")
    assert answer.text.startswith(gw.expected("internships.subscribed", label="设计")), answer.text
    assert paused in answer.text, answer.text
    await gw.dialog(USER, [("统计学", "internships.ask_year", {"example": 2027})])
    done = await gw.say(USER, "2027")
    assert done.text.startswith("投递成功✅"), done.text
    assert await _applications(gw, USER) == [("BI数据分析实习生", "张小龙", "13800138000", 2027, "submitted")]
