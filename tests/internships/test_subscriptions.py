"""Subscriptions by chat, and the notice an import sends: at most one per person per import."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from sqlalchemy import text

from bot.db.internships import people
from bot.db.internships.posts import Filters
from bot.db.users import ensure_user
from bot.internships.importer import import_file
from bot.notifier import RecordingNotifier
from tests.harness import Gateway
from tests.internships.support import demo_posts
from tests.internships.test_import import write_csv

USER = "o-intern-sub"


async def _labels(gw: Gateway, user: str) -> list[str]:
    async with gw.db.session() as s:
        rows = await s.execute(
            text(
                "SELECT label FROM internship_subscriptions s JOIN users u ON u.id = s.user_id "
                "WHERE u.external_id = :u ORDER BY s.id"
            ),
            {"u": user},
        )
        return list(rows.scalars())


async def test_subscribe_list_and_refuse_a_duplicate(gw: Gateway) -> None:
    await gw.dialog(
        USER,
        [
            ("订阅 设计 实习", "internships.subscribed", {"label": "设计"}),
            ("订阅 坂田 数据分析", "internships.subscribed", {"label": "坂田 · 数据分析"}),
            ("订阅 设计", "internships.subscribe_exists", {"label": "设计"}),
            ("订阅", "internships.subscribe_what"),
            ("我的订阅", "internships.my_subscriptions", {"lines": "1. 设计\n2. 坂田 · 数据分析"}),
        ],
    )
    assert await _labels(gw, USER) == ["设计", "坂田 · 数据分析"]


async def test_subscribing_right_after_another_programmes_list(gw: Gateway) -> None:
    """「周末的志愿活动」 leaves its list open; 「订阅 财务」 then still subscribes."""
    from pathlib import Path

    from bot.db.volunteer import demo as volunteer_demo

    folder = Path(gw.services.settings.content_dir or "content") / "demo"
    await volunteer_demo.load(gw.db, folder, tz=gw.services.tz, now=gw.services.local_now())
    assert (await gw.say(USER, "周末的志愿活动")).text.startswith("周末的志愿项目")
    await gw.dialog(USER, [("订阅 财务", "internships.subscribed", {"label": "财务"})])
    assert await _labels(gw, USER) == ["财务"]


async def test_the_subscription_limit_holds_under_concurrency(gw: Gateway) -> None:
    async with gw.db.session() as s:
        user_id = await ensure_user(s, "wechat", USER, gw.services.now())

    async def one(i: int) -> str:
        async with gw.db.session() as s:
            return await people.subscribe(s, user_id, f"词{i}", None, Filters(), 5, gw.services.now())

    outcomes = await asyncio.gather(*(one(i) for i in range(12)))
    assert outcomes.count("saved") == 5 and outcomes.count("full") == 7
    full = await gw.say(USER, "订阅 财务")
    assert full.text == gw.expected("internships.subscribe_full", limit=5)


async def test_unsubscribe_one_by_number_or_all(gw: Gateway) -> None:
    for said in ("订阅 设计", "订阅 财务", "订阅 港澳台专场"):
        await gw.say(USER, said)
    choose = await gw.say(USER, "取消订阅")
    assert choose.text == gw.expected("internships.choose_unsubscribe", lines="1. 设计\n2. 财务\n3. 港澳台专场")
    await gw.dialog(USER, [("2", "internships.unsubscribed", {"label": "财务"})])
    assert await _labels(gw, USER) == ["设计", "港澳台专场"]
    await gw.dialog(USER, [("取消订阅 设计", "internships.unsubscribed", {"label": "设计"})])
    await gw.dialog(USER, [("取消订阅", "internships.unsubscribed", {"label": "港澳台专场"})])
    await gw.dialog(USER, [("我的订阅", "internships.no_subscriptions")])
    for said in ("订阅 设计", "订阅 财务"):
        await gw.say(USER, said)
    await gw.dialog(USER, [("取消订阅 全部", "internships.unsubscribed_all", {"count": 2})])
    assert await _labels(gw, USER) == []


async def test_an_import_tells_each_subscriber_once(gw: Gateway, notifier: RecordingNotifier, tmp_path: Path) -> None:
    """Two subscriptions of one person match three new posts: one notice lists them all."""
    await gw.say("o-designer", "订阅 设计")
    await gw.say("o-designer", "订阅 港澳台专场 美工")
    await gw.say("o-accountant", "订阅 会计")
    await gw.say("o-nobody", "订阅 无人机")
    today = gw.services.local_now().date()
    base = [replace(p, status="open") for p in demo_posts(today)[:3]]
    new = [
        replace(base[0], post_id="ZC2025-001", title="平面设计实习生", hmt_round=True),
        replace(base[1], post_id="ZC2025-002", title="美工实习生", hmt_round=True, status="open"),
        replace(base[2], post_id="ZC2025-003", title="UI设计实习生"),
        replace(base[2], post_id="ZC2025-004", title="出纳实习生", description="协助出纳做日常账务。"),
        replace(base[2], post_id="ZC2025-005", title="视觉设计实习生", status="closed"),
    ]
    path = write_csv(tmp_path / "new.csv", new)
    done = await import_file(gw.services, path)
    assert len(done.written.inserted) == 5 and done.notified == 2
    designer = notifier.to("o-designer", "internship_match")
    assert len(designer) == 1
    body = designer[0].reply.text
    assert body.startswith("你订阅的「设计、港澳台专场 · 美工」有 3 个新岗位🔔")
    for title in ("平面设计实习生", "美工实习生", "UI设计实习生"):
        assert title in body
    assert "视觉设计实习生" not in body  # closed posts are not announced
    accountant = notifier.to("o-accountant", "internship_match")
    assert len(accountant) == 1 and "出纳实习生" in accountant[0].reply.text  # 会计 and 出纳 are synonyms
    assert notifier.to("o-nobody") == []
    assert designer[0].key != accountant[0].key and designer[0].key.startswith("internship_match:")
    assert designer[0].fields["count"] == "3"

    again = await import_file(gw.services, path)  # the same file again: nothing new, nobody told
    assert again.written.inserted == [] and again.written.updated == [] and again.notified == 0
    assert len(notifier.to("o-designer", "internship_match")) == 1


async def test_an_unfollowed_subscriber_is_not_told(gw: Gateway, notifier: RecordingNotifier, tmp_path: Path) -> None:
    await gw.say("o-gone", "订阅 设计")
    async with gw.db.session() as s:
        await s.execute(text("UPDATE users SET subscribed = FALSE WHERE external_id = 'o-gone'"))
    base = demo_posts(gw.services.local_now().date())[0]
    done = await import_file(
        gw.services, write_csv(tmp_path / "one.csv", [replace(base, post_id="X-1", title="设计助理")])
    )
    assert done.notified == 0 and notifier.to("o-gone") == []


async def test_a_question_while_choosing_what_to_unsubscribe_is_answered(gw: Gateway) -> None:
    """The list waits for a number or a word; 「我的申请」 or a question is answered as anywhere and
    unsubscribes nothing."""
    for said in ("订阅 设计", "订阅 财务"):
        await gw.say(USER, said)
    await gw.say(USER, "取消订阅")
    await gw.dialog(USER, [("我的申请", "internships.no_applications")])
    answer = await gw.say(USER, "实习有工资吗？")
    assert answer.text == (await gw.say(f"{USER}-fresh", "实习有工资吗？")).text
    assert await _labels(gw, USER) == ["设计", "财务"]
