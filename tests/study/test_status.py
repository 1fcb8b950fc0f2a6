"""「这周学了吗」, 「已学习」, screenshots, 「暂停提醒」/「恢复提醒」: what members read and what is stored."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.channels.wechat.simulator import message_xml, next_msg_id
from bot.db.study.tables import StudyCompletion, StudyMembership
from tests.conftest import FixedClock, GatewayFactory
from tests.harness import Gateway, count_batched_statements
from tests.study.support import CURRENT, OPENS, bind, seed, this_week


async def started(make_gateway: GatewayFactory, clock: FixedClock) -> Gateway:
    # The fixed clock is hours away from the simulator's timestamps: no replay window.
    gw = await make_gateway(clock=clock, wechat_replay_window=0)
    await seed(gw.db)
    return gw


def image_xml(user: str) -> str:
    return message_xml(
        {
            "ToUserName": "gh_longtuan",
            "FromUserName": user,
            "CreateTime": int(time.time()),
            "MsgType": "image",
            "PicUrl": "https://example.org/shot.jpg",
            "MediaId": "media-1",
            "MsgId": int(next_msg_id()),
        }
    )


async def completion(gw: Gateway) -> tuple[bool, bool] | None:
    """(self-reported, confirmed) of the one completion stored, if any."""
    async with gw.db.session() as s:
        row = (await s.execute(select(StudyCompletion.self_reported_at, StudyCompletion.confirmed_at))).one_or_none()
    return None if row is None else (row[0] is not None, row[1] is not None)


async def test_anyone_sees_this_weeks_episode_and_is_invited_to_bind(
    make_gateway: GatewayFactory, clock: FixedClock
) -> None:
    gw = await started(make_gateway, clock)
    answer = await gw.say("o-guest", "青年大学习这周学了吗")
    assert answer.text == this_week(gw, "study.status_unbound")
    click = await gw.event("o-guest", "CLICK", "STUDY")
    assert click.text == answer.text
    await gw.dialog("o-guest", [("已学习", "study.done_unbound")])
    assert await completion(gw) is None


async def test_self_report_is_unconfirmed_and_said_once(make_gateway: GatewayFactory, clock: FixedClock) -> None:
    gw = await started(make_gateway, clock)
    await bind(gw, "o-member")
    answer = await gw.say("o-member", "这周学了吗")
    assert answer.text == this_week(gw, "study.status_pending", branch="坂田街道第一团支部")
    await gw.dialog(
        "o-member",
        [("已学习", "study.done_saved", {"number": CURRENT}), ("学完了", "study.done_already", {"number": CURRENT})],
    )
    assert await completion(gw) == (True, False)
    answer = await gw.say("o-member", "这周学了吗")
    assert answer.text == this_week(gw, "study.status_self")


async def test_a_confirmed_completion_is_shown_as_confirmed(make_gateway: GatewayFactory, clock: FixedClock) -> None:
    gw = await started(make_gateway, clock)
    await bind(gw, "o-official")
    await gw.say("o-official", "已学习")
    async with gw.db.session() as s:
        await s.execute(update(StudyCompletion).values(confirmed_at=OPENS + timedelta(days=1)))
    assert (await gw.say("o-official", "这周学了吗")).text == this_week(gw, "study.status_confirmed")
    await gw.dialog("o-official", [("已学习", "study.done_confirmed", {"number": CURRENT})])


async def test_a_screenshot_is_no_proof_and_the_bot_says_so_kindly(
    make_gateway: GatewayFactory, clock: FixedClock
) -> None:
    gw = await started(make_gateway, clock)
    stranger = await gw.post(image_xml("o-stranger"), "o-stranger")
    assert stranger.text == gw.expected("fallback.media")  # not a member: the usual answer
    await bind(gw, "o-shot")
    answer = await gw.post(image_xml("o-shot"), "o-shot")
    assert answer.text == gw.expected("study.screenshot")
    assert await completion(gw) is None  # the picture recorded nothing


async def test_no_episode_yet_and_a_closed_one(make_gateway: GatewayFactory, clock: FixedClock) -> None:
    gw = await started(make_gateway, clock)
    await bind(gw, "o-early")
    clock.set(OPENS - timedelta(days=30))
    await gw.dialog("o-early", [("这周学了吗", "study.none"), ("已学习", "study.done_no_episode")])
    clock.set(OPENS + timedelta(days=7))  # the current episode has closed, no next one loaded
    answer = await gw.say("o-early", "这周学了吗")
    assert gw.expected("study.deadline_closed", closes="12月6日（周日）22:00") in answer.text
    assert answer.text.endswith(gw.expected("study.status_missed"))
    await gw.dialog("o-early", [("已学习", "study.done_no_episode")])


async def paused(gw: Gateway) -> tuple[bool, int | None]:
    async with gw.db.session() as s:
        row = (await s.execute(select(StudyMembership.paused, StudyMembership.paused_episode_id))).one()
    return row[0], row[1]


async def test_pause_this_episode_then_until_resumed_then_resume(
    make_gateway: GatewayFactory, clock: FixedClock
) -> None:
    gw = await started(make_gateway, clock)
    await gw.dialog("o-quiet", [("暂停提醒", "study.pause_unbound"), ("恢复提醒", "study.pause_unbound")])
    await bind(gw, "o-quiet")
    await gw.dialog(
        "o-quiet",
        [
            ("恢复提醒", "study.resumed_already"),
            ("暂停提醒", "study.pause_ask", {"number": CURRENT}),
            ("3", "study.pause_invalid"),
            ("1", "study.paused_episode", {"number": CURRENT}),
        ],
    )
    flag, episode_id = await paused(gw)
    assert not flag and episode_id is not None
    answer = await gw.say("o-quiet", "我的支部")
    assert gw.expected("study.reminders_paused_episode") in answer.text
    await gw.dialog(
        "o-quiet",
        [
            ("暂停提醒", "study.pause_ask", {"number": CURRENT}),
            ("取消", "system.cancelled"),
            ("暂停提醒", "study.pause_ask", {"number": CURRENT}),
            ("一直暂停", "study.paused"),
        ],
    )
    assert await paused(gw) == (True, None)
    assert gw.expected("study.reminders_paused") in (await gw.say("o-quiet", "我的支部")).text
    await gw.dialog("o-quiet", [("恢复提醒", "study.resumed")])
    assert await paused(gw) == (False, None)


async def test_pausing_between_episodes_pauses_until_resumed(make_gateway: GatewayFactory, clock: FixedClock) -> None:
    gw = await started(make_gateway, clock)
    await bind(gw, "o-between")
    clock.set(OPENS + timedelta(days=7))
    await gw.dialog("o-between", [("暂停提醒", "study.paused")])
    assert await paused(gw) == (True, None)


async def test_self_reports_at_once_record_one_completion_each(make_gateway: GatewayFactory, clock: FixedClock) -> None:
    gw = await started(make_gateway, clock)
    users = [f"o-rush-{i}" for i in range(12)]
    await asyncio.gather(*(bind(gw, u) for u in users))
    # Everyone at once, and the first of them tapping four times (four distinct messages).
    answers = await asyncio.gather(*(gw.say(u, "已学习") for u in [*users, users[0], users[0], users[0]]))
    assert all(a.status == 200 for a in answers)
    saved = gw.expected("study.done_saved", number=CURRENT)
    again = gw.expected("study.done_already", number=CURRENT)
    assert sum(a.text == saved for a in answers) == 12 and sum(a.text == again for a in answers) == 3
    async with gw.db.session() as s:
        rows = (await s.execute(select(StudyCompletion.user_id))).scalars().all()
    assert len(rows) == len(set(rows)) == 12


async def test_other_words_while_the_pause_choice_waits_are_answered_and_it_still_waits(
    make_gateway: GatewayFactory, clock: FixedClock
) -> None:
    """「人工」 and 「心情不好，好累」 heard "reply 1 or 2" over and over: each is answered as
    anywhere, with a line saying the choice still waits; a wrong short answer is still told so."""
    gw = await started(make_gateway, clock)
    await bind(gw, "o-choose")
    paused_note = gw.expected("system.flow_paused", flow=gw.expected("flows.study_pause"))
    await gw.dialog("o-choose", [("暂停提醒", "study.pause_ask", {"number": CURRENT})])
    for said in ("人工", "心情不好，好累", "志愿时长怎么查"):
        answer = await gw.say("o-choose", said)
        assert gw.expected("study.pause_invalid") not in answer.text, f"{said}: {answer.text}"
    await gw.say("o-choose", "取消")
    await gw.dialog("o-choose", [("暂停提醒", "study.pause_ask", {"number": CURRENT})])
    low = await gw.say("o-choose", "心情不好，好累")
    assert low.text.endswith(paused_note), low.text
    await gw.dialog("o-choose", [("3", "study.pause_invalid"), ("2", "study.paused")])
    assert await paused(gw) == (True, None)


async def test_a_member_asks_their_branchs_ratio(make_gateway: GatewayFactory, clock: FixedClock) -> None:
    """「我们支部参学比多少」: this episode so far and the one before, of the asker's branch only."""
    from tests.study.support import complete, member

    gw = await started(make_gateway, clock)
    await gw.dialog("o-ratio-1", [("我们支部参学比多少", "study.ratio_unbound")])
    await bind(gw, "o-ratio-1")
    other = await member(gw.db, "o-ratio-2", "BT01")
    elsewhere = await member(gw.db, "o-ratio-3", "BJ01")
    await complete(gw.db, other, CURRENT - 1, confirmed=True)
    await complete(gw.db, elsewhere, CURRENT, confirmed=True)
    await gw.dialog("o-ratio-1", [("已学习", "study.done_saved", {"number": str(CURRENT)})])
    uid = (await gw.db.fetch("SELECT id FROM users WHERE external_id = 'o-ratio-1'"))[0]["id"]
    await complete(gw.db, int(uid), CURRENT - 1, confirmed=True)
    line = "study.ratio_line"
    lines = "\n".join(
        [
            gw.expected(line, number=CURRENT, now=gw.expected("study.ratio_so_far"), done=1, members=4, ratio="25%"),
            gw.expected(line, number=CURRENT - 1, now="", done=2, members=4, ratio="50%"),
        ]
    )
    for asked in ("我们支部参学比多少", "支部参学比", "我们支部的参学比怎么样"):
        await gw.dialog("o-ratio-1", [(asked, "study.ratio", {"branch": "坂田街道第一团支部", "lines": lines})])
    # What the ratio is, or how it is counted, is still the FAQ's.
    await gw.dialog("o-ratio-1", [("参学比是什么", "faq.study.ratio"), ("我们支部参学比怎么算", "faq.study.ratio")])


async def test_people_asking_at_once_share_one_statement_and_each_get_their_own(
    make_gateway: GatewayFactory, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """「这周学了吗」 of many people in the same moment is one read (bot.db.batch); each answer is
    the asker's own: a member who reported, members who did not, someone unbound, someone unknown."""
    from datetime import UTC, datetime

    from bot.db.study import completions, week
    from tests.study.support import member

    gw = await started(make_gateway, clock)
    now = datetime.fromtimestamp(clock(), UTC)
    done = await member(gw.db, "o-week-done", "BT01")
    for i in range(5):
        await member(gw.db, f"o-week-{i}", "BJ01" if i % 2 else "BT02")
    async with gw.db.session() as s:
        current = await s.scalar(select(StudyMembership.branch_id).where(StudyMembership.user_id == done))
        episode = (await week.this_week(gw.db, "wechat", "o-week-done", now)).episode  # type: ignore[union-attr]
        await completions.self_report(s, episode.id, done, int(current or 0), now)
    statements = count_batched_statements(monkeypatch, gw.db, 3)
    asked = ["o-week-done", *(f"o-week-{i}" for i in range(5)), "o-guest", "o-nobody-at-all"]
    got = await asyncio.gather(*(week.this_week(gw.db, "wechat", u, now) for u in asked))
    assert statements == [8], "eight people: one statement"
    assert all(w is not None and w.episode.number == CURRENT for w in got)
    by = dict(zip(asked, got, strict=True))
    assert by["o-week-done"] is not None and by["o-week-done"].done is not None
    assert by["o-week-done"].branch == "坂田街道第一团支部"
    for i in range(5):
        mine = by[f"o-week-{i}"]
        assert mine is not None and mine.done is None
        assert mine.branch == ("布吉街道第一团支部" if i % 2 else "坂田街道第二团支部")
    for guest in ("o-guest", "o-nobody-at-all"):
        assert by[guest] is not None and by[guest].branch is None and by[guest].done is None  # type: ignore[union-attr]
    # Before the first episode opened: nothing to show, for everyone asking together.
    statements.clear()
    early = OPENS - timedelta(days=30)
    assert await asyncio.gather(*(week.this_week(gw.db, "wechat", u, early) for u in asked[:3])) == [None] * 3
    assert statements == [4]
