"""Learning from what the bot could not answer: kept masked under a salted hash, answered with the
closest entries, deleted after LONGTUAN_UNANSWERED_DAYS by a job, reported by keyword."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.commands.care import group_unanswered, report_unanswered
from bot.context import Services
from bot.db.care import add_incoming, close_thread
from bot.db.care_tables import CareThread, CareUnanswered
from bot.db.users import ensure_user
from handlers.care.fallback import user_hash
from handlers.care.jobs import forget_expired
from handlers.care.mask import mask
from tests.conftest import FixedClock, GatewayFactory, shared_content
from tests.harness import Gateway


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("我叫王小明，手机13812345678", "我叫[姓名]，手机[手机号]"),
        ("电话 138 1234 5678 回我", "电话 [手机号] 回我"),
        ("+86 13912345678", "[手机号]"),
        ("身份证44030719990101123X丢了", "身份证[身份证号]丢了"),
        ("我的名字是欧阳娜娜", "我的名字是[姓名]"),
        ("QQ 12345678", "QQ [号码]"),
        ("邮箱 youth.lg@qq.com", "邮箱 [邮箱]"),
        ("夜校几点下课", "夜校几点下课"),
    ],
)
def test_personal_details_are_masked(text: str, kept: str) -> None:
    assert mask(text) == kept


async def _kept(gateway: Gateway) -> list[tuple[str, str]]:
    async with gateway.db.session() as s:
        rows = await s.execute(select(CareUnanswered.text, CareUnanswered.user_hash).order_by(CareUnanswered.id))
        return [(r[0], r[1]) for r in rows.all()]


async def test_unanswered_questions_are_kept_masked_under_a_salted_hash(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(unanswered_salt="pepper-1")
    await gateway.dialog(
        "o-learn-1",
        [
            ("我叫李雷，电话13800001111，团费怎么交", "fallback.text"),
            ("夜校怎么报名", "faq.night_school.signup"),  # answered: not kept
            ("团费怎么交", "fallback.text"),
        ],
    )
    await gateway.dialog("o-learn-2", [("团费怎么交", "fallback.text")])
    kept = await _kept(gateway)
    assert [t for t, _ in kept] == ["我叫[姓名]，电话[手机号]，团费怎么交", "团费怎么交", "团费怎么交"]
    first, again, other = (h for _, h in kept)
    assert first == again == user_hash("pepper-1", "wechat", "o-learn-1") and other != first
    assert "o-learn-1" not in first and first != user_hash("pepper-2", "wechat", "o-learn-1")


async def test_the_fallback_says_what_it_understood_and_offers_the_closest(gateway: Gateway) -> None:
    answer = await gateway.say("o-learn-3", "志愿者保险怎么办")
    assert answer.text.startswith(gateway.expected("care.fallback_partial", understood="志愿"))
    assert answer.text.count("weixin://bizmsgmenu") == 3
    # A choice sends an example that reaches its entry.
    assert "msgmenucontent=%E6%80%8E%E4%B9%88%E6%88%90%E4%B8%BA%E5%BF%97%E6%84%BF%E8%80%85" in answer.text
    await gateway.dialog("o-learn-3", [("怎么成为志愿者", "faq.volunteer.join")])
    # Nothing understood, but a question close in wording: the closest entries, no false claim.
    answer = await gateway.say("o-learn-3", "参学怎么算")
    assert answer.text.startswith(gateway.expected("care.fallback_closest")) and "参学比是什么" in answer.text
    # Nothing close at all: the general list.
    await gateway.dialog("o-learn-3", [("今天天气怎么样", "fallback.text")])
    assert len(await _kept(gateway)) == 3


async def test_with_the_database_down_the_fallback_does_not_say_the_question_was_kept(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    breaker = gateway.services.db.breaker
    # Down for the whole dialog, however slowly a loaded machine runs it: a query already in flight
    # (the outbox worker's poll) that ends well must not close the breaker meanwhile.
    monkeypatch.setattr(breaker, "cooldown", 60)
    monkeypatch.setattr(breaker, "succeeded", lambda: None)
    breaker.failed(OSError("down"))  # unreachable for the breaker's cool-down
    await gateway.dialog("o-learn-4", [("今天天气怎么样", "fallback.unkept")])
    answer = await gateway.say("o-learn-4", "参学怎么算")
    assert answer.text.startswith(gateway.expected("care.fallback_closest_unkept")) and "参学比是什么" in answer.text
    assert "记下" not in answer.text
    monkeypatch.undo()
    breaker.succeeded()
    assert await _kept(gateway) == []
    await gateway.dialog("o-learn-4", [("今天天气怎么样", "fallback.text")])  # back: kept again
    assert len(await _kept(gateway)) == 1


async def test_the_expiry_job_forgets_old_questions_and_closed_threads(services: Services, clock: FixedClock) -> None:
    now = clock()
    async with services.db.session() as s:
        for days in (1, 89, 91, 200):
            s.add(
                CareUnanswered(
                    asked_at=datetime.fromtimestamp(now, UTC) - timedelta(days=days), user_hash="h", text="q"
                )
            )
        user = await ensure_user(s, "wechat", "o-learn-4", now)
        old = await add_incoming(s, user, "旧的留言", now - 200 * 86400)
        await close_thread(s, old, now - 190 * 86400)
        user2 = await ensure_user(s, "wechat", "o-learn-5", now)
        await add_incoming(s, user2, "还开着的留言", now - 300 * 86400)
    assert await forget_expired(services) == 3  # two questions past 90 days, one thread closed 190 days ago
    assert await forget_expired(services) == 0  # safe to run twice
    async with services.db.session() as s:
        left = (await s.execute(select(func.count()).select_from(CareUnanswered))).scalar_one()
        threads = (await s.execute(select(CareThread.status))).scalars().all()
    assert left == 2 and threads == ["open"]


def test_questions_are_grouped_by_keyword_most_asked_first() -> None:
    _, analyzer = shared_content()
    rows = [
        ("团费怎么交", "a"),
        ("团费交多少", "b"),
        ("团费在哪里交", "a"),
        ("停车场在哪", "c"),
        ("活动现场的停车场收费吗", "d"),
        ("嗯嗯嗯", "e"),
    ]
    groups = group_unanswered(analyzer, rows)
    assert groups[0] == ("团费", ["团费怎么交", "团费交多少", "团费在哪里交"], 2)
    assert groups[1] == ("停车场", ["停车场在哪", "活动现场的停车场收费吗"], 2)
    assert groups[-1] == ("", ["嗯嗯嗯"], 1)


async def test_the_report_prints_the_groups(
    services: Services, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.fromtimestamp(clock(), UTC)
    async with services.db.session() as s:
        for text, who, days in [
            ("团费怎么交", "a", 1),
            ("团费交多少", "b", 2),
            ("停车场在哪", "c", 3),
            ("旧问题团费", "d", 30),
        ]:
            s.add(CareUnanswered(asked_at=now - timedelta(days=days), user_hash=who, text=text))
    assert await report_unanswered(services, argparse.Namespace(days=7, top=20)) == 0
    out = capsys.readouterr().out
    assert "3 条，3 人问过" in out
    lines = out.splitlines()
    assert lines[2].startswith("团费") and "「团费怎么交」" in lines[2] and "旧问题" not in out


def test_the_expiry_job_is_scheduled_nightly() -> None:
    from zoneinfo import ZoneInfo

    from handlers.care import jobs
    from scheduler.jobs import PROGRAMMES

    added: list[tuple[str, object, object]] = []
    jobs.schedule(lambda job_id, job, trigger: added.append((job_id, job, trigger)), ZoneInfo("Asia/Shanghai"))
    [(job_id, job, trigger)] = added
    assert "handlers.care.jobs" in PROGRAMMES and job_id == "care.forget_expired" and job is forget_expired
    assert "hour='3'" in str(trigger)


def test_faq_check_shows_the_entry_and_the_scores(capsys: pytest.CaptureFixture[str]) -> None:
    from bot.commands.care import faq_check

    faq_check(argparse.Namespace(question=["夜校", "怎麼報名"], top=3))
    out = capsys.readouterr().out
    assert "问题：「夜校 怎么报名」" in out  # traditional folded as the bot does
    assert "会答：night_school.signup" in out
    assert "✓ night_school.signup" in out and "关键词 夜校+报名" in out
    faq_check(argparse.Namespace(question=["志愿者保险怎么办"], top=3))
    out = capsys.readouterr().out
    assert "没有条目全部命中" in out and "（缺 注册）" in out
    faq_check(argparse.Namespace(question=["我不想活了"], top=1))
    assert "会先被求助词表接住（self_harm）" in capsys.readouterr().out
    faq_check(argparse.Namespace(question=["谢谢"], top=1))
    assert "整句是命令词「thanks」" in capsys.readouterr().out
