"""「撤回申请」: withdraw an application nothing is decided on yet, by its number; decided ones are
refused; a withdrawn one can be sent again; two withdrawals at once withdraw once."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from bot.db.internships import people
from bot.db.users import ensure_user
from tests.harness import Gateway
from tests.internships.test_apply_dialogs import _applications, _apply_first

USER = "o-intern-withdraw"


async def _set_status(gw: Gateway, user: str, title: str, status: str) -> None:
    async with gw.db.session() as s:
        await s.execute(
            text("""
UPDATE internship_applications a SET status = :st FROM internship_posts p, users u
WHERE p.id = a.post_id AND u.id = a.user_id AND u.external_id = :u AND p.title = :t
"""),
            {"st": status, "u": user, "t": title},
        )


async def test_withdraw_by_number_then_apply_again(gw: Gateway) -> None:
    await _apply_first(gw, USER, first=False)
    await gw.say(USER, "确认")  # the second application
    assert [a[4] for a in await _applications(gw, USER)] == ["submitted", "submitted"]
    listed = await gw.say(USER, "撤回申请")
    assert listed.text.startswith("想撤回哪一个投递？\n1. ") and "\n2. " in listed.text, listed.text
    first_line = listed.text.splitlines()[1]
    title = first_line.split(". ", 1)[1].split("｜", 1)[0]
    await gw.dialog(USER, [("5", "internships.bad_withdraw"), ("1", "internships.withdrawn", {"title": title})])
    statuses = [(a[0], a[4]) for a in await _applications(gw, USER)]
    assert (title, "withdrawn") in statuses and sorted(st for _, st in statuses) == ["submitted", "withdrawn"]
    mine = await gw.say(USER, "我的申请")
    assert "已撤回" in mine.text, mine.text
    # Sent again: the same row is submitted once more (the unique key still holds one per post).
    # The list is newest first: 1 was the second application, search result 2.
    await gw.say(USER, "坂田 数据分析")
    assert (await gw.say(USER, "2")).text.startswith(title)
    confirm = await gw.say(USER, "申请")
    assert confirm.text.startswith(f"投递「{title}」将使用这些信息"), confirm.text
    assert (await gw.say(USER, "确认")).text.startswith("投递成功✅")
    assert [a[4] for a in await _applications(gw, USER)] == ["submitted", "submitted"]


async def test_forwarded_says_to_tell_the_employer_and_decided_ones_stay(gw: Gateway) -> None:
    await _apply_first(gw, USER)
    await _set_status(gw, USER, "BI数据分析实习生", "forwarded")
    await gw.say(USER, "撤回投递")
    answer = await gw.say(USER, "1")
    assert answer.text.startswith("已撤回「BI数据分析实习生」的投递。\n你的材料已经转给用人单位了"), answer.text
    assert "@" in answer.text, answer.text
    await _set_status(gw, USER, "BI数据分析实习生", "hired")
    await gw.dialog(USER, [("撤回申请", "internships.withdraw_none_open")])
    await gw.dialog("o-never-applied", [("取消申请", "internships.no_applications")])


async def test_with_everything_withdrawn_or_decided_meanwhile_the_answer_says_which(gw: Gateway) -> None:
    await _apply_first(gw, USER)
    await gw.say(USER, "撤回申请")
    await _set_status(gw, USER, "BI数据分析实习生", "withdrawn")  # from another phone, meanwhile
    await gw.dialog(USER, [("1", "internships.withdraw_gone")])
    await gw.dialog(USER, [("撤回申请", "internships.withdraw_all_withdrawn")])


async def test_a_question_or_cancel_while_the_list_waits(gw: Gateway) -> None:
    await _apply_first(gw, USER)
    await gw.say(USER, "撤回申请")
    # A quiet list (as 「取消订阅」's): the question is answered, and the list still waits.
    await gw.dialog(USER, [("我的时长", "volunteer.hours_none", {"first": "100", "first_name": "一星志愿者"})])
    await gw.dialog(USER, [("取消", "system.cancelled")])
    assert [a[4] for a in await _applications(gw, USER)] == ["submitted"]


async def test_two_withdrawals_at_once_withdraw_once(gw: Gateway) -> None:
    await _apply_first(gw, USER)
    async with gw.db.session() as s:
        user_id = await ensure_user(s, "wechat", USER, gw.services.now())
        post_id = (
            await s.execute(text("SELECT post_id FROM internship_applications WHERE user_id = :u"), {"u": user_id})
        ).scalar_one()

    async def one() -> people.Withdrawn | None:
        async with gw.db.session() as s:
            return await people.withdraw(s, user_id, post_id)

    results = await asyncio.gather(*(one() for _ in range(10)))
    assert sum(r is not None for r in results) == 1
    assert [a[4] for a in await _applications(gw, USER)] == ["withdrawn"]
