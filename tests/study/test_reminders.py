"""Reminder rules with a fixed clock: who gets which reminder, twice run, a completion in between."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.context import Services
from bot.db.models import User
from bot.db.study import completions, episodes, members, reminders
from bot.db.study.reminders import Audience
from bot.db.study.tables import StudyReminderSend
from bot.db.users import ensure_user
from bot.errors import ConfigError
from bot.notifier import RecordingNotifier
from bot.outbound import Notice, SendResult, Status
from bot.settings import Settings
from handlers.study.jobs import JOB_ID, run_rule, schedule, send_reminders
from handlers.study.rules import find, load_rules, rules_of
from tests.conftest import FixedClock
from tests.study.support import CURRENT, OPENS, SHANGHAI, complete, member, seed

MONDAY_10_05 = OPENS + timedelta(minutes=5)
THURSDAY_19_05 = datetime(2026, 12, 3, 19, 5, tzinfo=SHANGHAI)
SUNDAY_12_05 = datetime(2026, 12, 6, 12, 5, tzinfo=SHANGHAI)


def recorder(services: Services) -> RecordingNotifier:
    assert isinstance(services.notifier, RecordingNotifier)
    return services.notifier


async def cast(services: Services) -> dict[str, int]:
    """A: pending. B: studied. C: paused until resumed. D: paused this episode. E: left the account."""
    await seed(services.db)
    ids = {name: await member(services.db, f"o-{name}", "BT01" if name in "ABE" else "BJ01") for name in "ABCDE"}
    await member(services.db, "o-F", "BT02")  # F moves to BJ01 below: one open membership, reached once
    await member(services.db, "o-F", "BJ01", now=OPENS.timestamp() + 60)
    await complete(services.db, ids["B"], CURRENT, confirmed=False)
    async with services.db.session() as s:
        ep = await episodes.by_number(s, CURRENT)
        assert ep is not None
        await members.set_pause(s, ids["C"], paused=True, episode_id=None)
        await members.set_pause(s, ids["D"], paused=False, episode_id=ep.id)
        await s.execute(update(User).where(User.id == ids["E"]).values(subscribed=False))
    return ids


def reached(services: Services, purpose: str = "study_reminder") -> list[str]:
    return sorted(n.user_id for n in recorder(services).notices if n.purpose == purpose)


async def test_monday_reaches_every_bound_member_once(services: Services, clock: FixedClock) -> None:
    await cast(services)
    await member(services.db, "o-G", "BT01")
    async with services.db.session() as s:  # H follows the account but never bound: not a member
        await ensure_user(s, "wechat", "o-H", clock())
    clock.set(MONDAY_10_05)
    assert await send_reminders(services) == 4
    assert reached(services) == ["o-A", "o-B", "o-F", "o-G"]
    notice = recorder(services).to("o-A")[0]
    assert notice.reply.key == "study.remind_opening" and "第100期上线啦" in notice.reply.text
    assert notice.key.startswith(f"study_reminder:{CURRENT}:") and notice.key.endswith(":opening")
    assert notice.fields["episode"] == "第100期" and notice.fields["closes"] == "12月6日（周日）22:00"
    assert await send_reminders(services) == 0  # run twice: nothing twice
    assert len(recorder(services).notices) == 4


async def test_thursday_and_sunday_reach_only_who_has_not_studied(services: Services, clock: FixedClock) -> None:
    ids = await cast(services)
    clock.set(THURSDAY_19_05)
    assert await send_reminders(services) == 2
    assert reached(services) == ["o-A", "o-F"]
    assert recorder(services).to("o-A")[0].reply.key == "study.remind_pending"
    assert await send_reminders(services) == 0
    await complete(services.db, ids["A"], CURRENT, confirmed=False)  # A studies on Saturday
    clock.set(SUNDAY_12_05)
    assert await send_reminders(services) == 1
    assert await send_reminders(services) == 0
    assert reached(services) == ["o-A", "o-F", "o-F"]
    assert [n.key.rsplit(":", 1)[1] for n in recorder(services).to("o-F")] == ["thursday", "sunday"]


async def test_nothing_is_due_between_the_rules_times(services: Services, clock: FixedClock) -> None:
    await cast(services)
    clock.set(datetime(2026, 12, 2, 15, 0, tzinfo=SHANGHAI))  # Wednesday afternoon
    assert await send_reminders(services) == 0
    clock.set(THURSDAY_19_05 + timedelta(hours=7))  # past the six-hour window of Thursday's run
    assert await send_reminders(services) == 0
    assert recorder(services).notices == []


async def test_no_reminder_once_the_episode_has_closed(services: Services, clock: FixedClock) -> None:
    await cast(services)
    clock.set(OPENS + timedelta(days=7, minutes=5))  # next Monday, no new episode loaded
    assert await send_reminders(services) == 0


class CompletesAnother:
    """A notifier that, while sending the first notice, records the next member's completion."""

    def __init__(self, services: Services, other: int) -> None:
        self.services, self.other = services, other
        self.sent: list[Notice] = []

    async def send(self, notice: Notice) -> SendResult:
        if not self.sent:
            await complete(self.services.db, self.other, CURRENT, confirmed=False)
        self.sent.append(notice)
        return SendResult(Status.SENT)


async def test_a_member_who_completes_between_the_plan_and_the_send_is_skipped(
    services: Services, clock: FixedClock
) -> None:
    await seed(services.db)
    first = await member(services.db, "o-first", "BT01")
    second = await member(services.db, "o-second", "BT01")
    clock.set(THURSDAY_19_05)
    rule = find(services.settings, "thursday")
    async with services.db.session() as s:
        ep = await episodes.by_number(s, CURRENT)
        assert ep is not None
        plan = await reminders.plan(s, ep.id, rule.id, rule.audience)
    assert plan.to_send == 2
    services.settings = services.settings.model_copy(update={"study_reminder_batch": 1})
    services.notifier = notifier = CompletesAnother(services, second)
    run = await run_rule(services, rule)
    assert run.sent == 1 and [n.user_id for n in notifier.sent] == ["o-first"]
    async with services.db.session() as s:
        assert await completions.of(s, ep.id, second) is not None
        keys = (await s.execute(select(StudyReminderSend.user_id))).scalars().all()
    assert keys == [first]


async def test_overlapping_runs_share_the_members_out(services: Services, clock: FixedClock) -> None:
    await seed(services.db)
    for i in range(40):
        await member(services.db, f"o-crowd-{i:02}", "BT01" if i % 2 else "BJ01")
    services.settings = services.settings.model_copy(update={"study_reminder_batch": 7})
    clock.set(THURSDAY_19_05)
    rule = find(services.settings, "thursday")
    runs = await asyncio.gather(*(run_rule(services, rule) for _ in range(4)))
    assert sum(r.sent for r in runs) == 40
    assert sorted(reached(services)) == sorted(f"o-crowd-{i:02}" for i in range(40))  # each once


class Answers:
    """A notifier that answers each user as told (sent when not told)."""

    def __init__(self, answers: dict[str, SendResult]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    async def send(self, notice: Notice) -> SendResult:
        self.calls.append(notice.user_id)
        return self.answers.get(notice.user_id, SendResult(Status.SENT))


async def test_a_retry_is_tried_again_a_drop_is_not(services: Services, clock: FixedClock) -> None:
    await seed(services.db)
    for name in ("ok", "later", "gone"):
        await member(services.db, f"o-{name}", "BT01")
    services.notifier = notifier = Answers(
        {
            "o-later": SendResult(Status.RETRY, "rate limited", 0.0),
            "o-gone": SendResult(Status.DROPPED, "not_follower"),
        }
    )
    clock.set(THURSDAY_19_05)
    assert await send_reminders(services) == 1
    async with services.db.session() as s:
        rows = dict((await s.execute(select(StudyReminderSend.status, StudyReminderSend.reason))).all())
    assert rows == {"sent": "", "dropped": "not_follower"}  # the retry gave its claim back
    notifier.answers.clear()
    clock.advance(300)
    assert await send_reminders(services) == 1
    assert sorted(notifier.calls) == ["o-gone", "o-later", "o-later", "o-ok"]


async def test_plan_counts_who_a_rule_reaches(services: Services, clock: FixedClock) -> None:
    await cast(services)
    clock.set(THURSDAY_19_05)
    rules = {r.id: r for r in rules_of(services.settings)}
    async with services.db.session() as s:
        ep = await episodes.by_number(s, CURRENT)
        assert ep is not None
        pending = await reminders.plan(s, ep.id, "thursday", rules["thursday"].audience)
        opening = await reminders.plan(s, ep.id, "opening", Audience.ALL)
    assert pending == reminders.Plan(bound=6, not_following=1, paused=2, completed=1, already=0, to_send=2)
    assert opening.to_send == 3 and opening.completed == 0
    await send_reminders(services)
    async with services.db.session() as s:
        again = await reminders.plan(s, ep.id, "thursday", Audience.PENDING)
    assert (again.already, again.to_send) == (2, 0)


def test_rules_are_data_and_checked(tmp_path: Path) -> None:
    shipped = rules_of(Settings())
    assert [(r.id, r.cron, r.audience.value) for r in shipped] == [
        ("opening", "0 10 * * mon", "all"),
        ("thursday", "0 19 * * thu", "pending"),
        ("sunday", "0 12 * * sun", "pending"),
    ]
    with pytest.raises(ConfigError, match="no study reminder rule 'nosuchrule'"):
        find(Settings(), "nosuchrule")
    bad = tmp_path / "study.toml"
    bad.write_text('[[reminder]]\nid = "x"\ncron = "61 25 * * *"\naudience = "all"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="reminder 0"):
        load_rules(bad, SHANGHAI)
    bad.write_text('[[reminder]]\nid = "x"\ncron = "0 9 * * *"\naudience = "everyone"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="audience"):
        load_rules(bad, SHANGHAI)


def test_the_scheduler_runs_the_rules_every_five_minutes() -> None:
    added: list[tuple[str, Any, Any]] = []
    schedule(lambda job_id, job, trigger: added.append((job_id, job, trigger)), SHANGHAI)
    assert [(a[0], a[1]) for a in added] == [(JOB_ID, send_reminders)]
    trigger = added[0][2]
    fire = trigger.get_next_fire_time(None, datetime(2026, 12, 3, 19, 1, tzinfo=SHANGHAI))
    assert fire == datetime(2026, 12, 3, 19, 5, tzinfo=SHANGHAI)


async def test_a_finished_rule_is_not_walked_again_by_the_tick_but_a_cadre_can(
    services: Services, clock: FixedClock
) -> None:
    await seed(services.db)
    await member(services.db, "o-early", "BT01")
    clock.set(THURSDAY_19_05)
    assert await send_reminders(services) == 1
    await member(services.db, "o-late", "BT01")  # binds after Thursday's run
    clock.advance(300)
    assert await send_reminders(services) == 0  # the rule finished for this episode
    run = await run_rule(services, find(services.settings, "thursday"))  # longtuan study remind thursday
    assert run.sent == 1 and reached(services) == ["o-early", "o-late"]


def test_a_bad_rules_file_stops_the_start(tmp_path: Path) -> None:
    from bot.content import DEFAULT_DIR, load_content
    from bot.text import Analyzer
    from handlers.study import router

    for f in DEFAULT_DIR.rglob("*.t*"):
        target = tmp_path / f.relative_to(DEFAULT_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(f.read_bytes())
    bad = '[[reminder]]\nid = "x"\ncron = "every day"\naudience = "all"\n'
    (tmp_path / "study.toml").write_text(bad, encoding="utf-8")
    content = load_content(tmp_path)
    with pytest.raises(ConfigError, match=r"study\.toml reminder 0"):
        router(content, Analyzer(content.synonyms))


async def test_a_pause_for_one_episode_ends_with_it(services: Services, clock: FixedClock) -> None:
    await cast(services)
    nxt = OPENS + timedelta(days=7)
    async with services.db.session() as s:
        await episodes.upsert(s, CURRENT + 1, "下一期", "https://example.org/study/101", nxt, nxt + timedelta(days=6))
    clock.set(nxt + timedelta(minutes=5))
    await send_reminders(services)
    assert reached(services) == ["o-A", "o-B", "o-D", "o-F"]  # D is back; C paused until resumed
    assert all(n.key.startswith(f"study_reminder:{CURRENT + 1}:") for n in recorder(services).notices)
