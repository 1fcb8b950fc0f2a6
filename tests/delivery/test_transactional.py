"""Notices belong to the change that decides them: queued in its transaction with the outbox, sent
after its commit without; nothing for a change that rolled back, one notice for a job run twice."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.context import Context, Services
from bot.db.courses import signups
from bot.internships.importer import import_file
from bot.model import Reply
from bot.outbound import Notice, SendResult, Status
from bot.session.base import Session
from handlers.courses.jobs import remind_day_before
from tests.conftest import FixedClock, GatewayFactory, outbox_rows
from tests.courses.support import NOW, SHANGHAI, add_class, add_profile, signup_rows
from tests.internships.support import demo_posts
from tests.internships.test_import import write_csv

PROMOTED = Reply("courses.promoted", {"title": "光影入门", "when": "12月3日 10:00", "venue": "坂田青年之家"})


class Boom(Exception):
    pass


def context(services: Services, user: str = "o-tx") -> Context:
    return Context(services, Session(), channel="wechat", user_id=user)


async def count_users(services: Services, openid: str) -> int:
    async with services.db.session() as s:
        found = await s.execute(text("SELECT count(*) FROM users WHERE external_id = :o"), {"o": openid})
        return int(found.scalar_one())


async def add_user_row(s: object, openid: str) -> None:
    await s.execute(  # type: ignore[attr-defined]
        text(
            "INSERT INTO users (channel, external_id, subscribed, first_scene, first_seen, last_seen, street) "
            "VALUES ('wechat', :o, TRUE, '', now(), now(), '')"
        ),
        {"o": openid},
    )


# -- a handler's transaction (ctx.db) ---------------------------------------------------------------


async def test_a_notice_queued_in_a_handler_transaction_that_rolls_back_leaves_no_outbox_row(
    outbox_services: Services,
) -> None:
    ctx = context(outbox_services)
    with pytest.raises(Boom):
        async with ctx.db() as s:
            await add_user_row(s, "o-rolled-back")
            ctx.notice("waitlist_promoted", "tx:1", PROMOTED)
            raise Boom
    assert await outbox_rows(outbox_services.db) == []
    assert await count_users(outbox_services, "o-rolled-back") == 0
    assert ctx.notices == [], "nothing is left for the pipeline to send either"


async def test_a_notice_queued_in_a_handler_transaction_that_commits_is_in_the_outbox_once(
    outbox_services: Services,
) -> None:
    ctx = context(outbox_services)
    async with ctx.db() as s:
        await add_user_row(s, "o-committed")
        ctx.notice("waitlist_promoted", "tx:2", PROMOTED)
        ctx.notice("waitlist_promoted", "tx:2", PROMOTED)  # the same key twice: one row
    ctx.notice("late_reply", "tx:3", Reply(text="outside any transaction"))
    rendered = outbox_services.content.render(PROMOTED).text
    assert await outbox_rows(outbox_services.db) == [("tx:2", "waitlist_promoted", "pending", rendered)]
    assert rendered.startswith("好消息🎉")
    # Only the notice queued outside a transaction is left for the pipeline (sent after the handler).
    assert [n.key for n in ctx.notices] == ["tx:3"]


async def test_the_outbox_row_and_the_change_are_one_transaction(outbox_services: Services) -> None:
    ctx = context(outbox_services)
    async with ctx.db() as s:
        await add_user_row(s, "o-same")
        ctx.notice("waitlist_promoted", "tx:4", PROMOTED)
    async with outbox_services.db.session() as s:
        change = (await s.execute(text("SELECT xmin::text FROM users WHERE external_id = 'o-same'"))).scalar_one()
        queued = (await s.execute(text("SELECT xmin::text FROM outbox WHERE idem_key = 'tx:4'"))).scalar_one()
    assert change == queued


async def test_without_the_outbox_a_rolled_back_notice_is_dropped_and_a_committed_one_waits_for_the_pipeline(
    services: Services,
) -> None:
    ctx = context(services)
    with pytest.raises(Boom):
        async with ctx.db():
            ctx.notice("waitlist_promoted", "tx:5", PROMOTED)
            raise Boom
    async with ctx.db():
        ctx.notice("waitlist_promoted", "tx:6", PROMOTED)
    assert [n.key for n in ctx.notices] == ["tx:6"]
    assert await outbox_rows(services.db) == []


# -- a job's or a command's transaction (svc.unit) --------------------------------------------------


async def test_a_unit_that_rolls_back_queues_nothing_and_one_that_commits_queues_once(
    outbox_services: Services,
) -> None:
    with pytest.raises(Boom):
        async with outbox_services.unit() as unit:
            unit.notify(Notice("wechat", "o-u", "class_reminder", Reply(text="明晚上课"), "u:1"))
            raise Boom
    assert await outbox_rows(outbox_services.db) == []
    for _ in range(2):
        async with outbox_services.unit() as unit:
            unit.notify(Notice("wechat", "o-u", "class_reminder", Reply(text="明晚上课"), "u:2"))
            unit.notify(Notice("wechat", "o-u", "class_reminder", Reply(), "u:3"))  # nothing to say
    assert [(r.status, r.reason) for r in unit.results] == [
        (Status.QUEUED, "already_queued"),
        (Status.DROPPED, "empty"),
    ]
    assert unit.sent == 1
    assert await outbox_rows(outbox_services.db) == [("u:2", "class_reminder", "pending", "明晚上课")]


class _Seeing:
    """A notifier that records, for each notice, whether its change is visible to another connection."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.seen: list[tuple[str, int]] = []

    async def send(self, notice: Notice) -> SendResult:
        self.seen.append((notice.key, await count_users(self.services, notice.user_id)))
        return SendResult(Status.SENT)


async def test_without_the_outbox_a_unit_sends_after_its_commit_and_nothing_for_a_rollback(
    services: Services,
) -> None:
    seeing = _Seeing(services)
    direct = dataclasses.replace(services, notifier=seeing)
    assert direct.outbox is None
    with pytest.raises(Boom):
        async with direct.unit() as unit:
            await add_user_row(unit.session, "o-d1")
            unit.notify(Notice("wechat", "o-d1", "class_reminder", Reply(text="明晚上课"), "d:1"))
            raise Boom
    async with direct.unit() as unit:
        await add_user_row(unit.session, "o-d2")
        unit.notify(Notice("wechat", "o-d2", "class_reminder", Reply(text="明晚上课"), "d:2"))
        assert seeing.seen == [], "nothing goes out before the commit"
    assert seeing.seen == [("d:2", 1)], "sent once, after the change was committed"
    assert unit.sent == 1


# -- jobs run twice -----------------------------------------------------------------------------------


async def test_a_reminder_job_run_twice_queues_each_reminder_once_with_its_claim(
    outbox_services: Services, clock: FixedClock
) -> None:
    svc = outbox_services
    cls = await add_class(svc.db, "T", datetime(2026, 12, 2, 19, 30, tzinfo=SHANGHAI), capacity=5)
    for openid in ("o-a", "o-b"):
        uid = await add_profile(svc.db, openid)
        async with svc.db.session() as s:
            await signups.sign_up(s, cls, uid, NOW)
    clock.set(datetime(2026, 12, 1, 20, 0, tzinfo=SHANGHAI))
    assert await remind_day_before(svc) == 2
    assert await remind_day_before(svc) == 0
    rows = await outbox_rows(svc.db)
    assert sorted(r[0].rsplit(":", 1)[0] for r in rows) == [f"class_reminder:day:{cls}"] * 2
    assert all(r[1:3] == ("class_reminder", "pending") and r[3].startswith("上课提醒📚") for r in rows)
    async with svc.db.session() as s:
        claims = set((await s.execute(text("SELECT xmin::text FROM course_reminders"))).scalars())
        queued = set((await s.execute(text("SELECT xmin::text FROM outbox"))).scalars())
    assert claims == queued and len(queued) == 1, "the claims and the notices: one transaction"


async def test_an_internship_import_run_twice_tells_each_subscriber_once(
    make_gateway: GatewayFactory, clock: FixedClock, tmp_path: Path
) -> None:
    gw = await make_gateway(clock=clock, wechat_replay_window=0, worker_in_serve=False)
    await gw.say("o-designer", "订阅 设计")
    base = demo_posts(gw.services.local_now().date())[0]
    path = write_csv(tmp_path / "new.csv", [replace(base, post_id="TX-1", title="平面设计实习生", status="open")])
    first = await import_file(gw.services, path)
    again = await import_file(gw.services, path)
    assert (first.notified, again.notified) == (1, 0)
    [(key, purpose, status, body)] = await outbox_rows(gw.db)
    assert key.startswith("internship_match:") and (purpose, status) == ("internship_match", "pending")
    assert "平面设计实习生" in body
    async with gw.db.session() as s:
        post = (await s.execute(text("SELECT xmin::text FROM internship_posts WHERE post_id = 'TX-1'"))).scalar_one()
        queued = (await s.execute(text("SELECT xmin::text FROM outbox"))).scalar_one()
    assert post == queued, "the posts and their notices: one transaction"


# -- a waitlist promotion through the signed entry ----------------------------------------------------


async def test_a_waitlist_promotion_and_its_notice_commit_together(make_gateway: GatewayFactory) -> None:
    # No worker in the app: the row stays as the promotion's transaction wrote it.
    gw = await make_gateway(clock=FixedClock(NOW), wechat_replay_window=0, worker_in_serve=False)
    cls = await add_class(gw.db, "C1", NOW + timedelta(days=2), capacity=1)
    for user in ("o-1", "o-2", "o-3"):
        await add_profile(gw.db, user)
        await gw.say(user, f"报名#{cls}")
    await gw.say("o-1", f"取消报名#{cls}")  # what tapping 「确认取消」 sends
    promoted = next(sid for sid, user, status in await signup_rows(gw.db, cls) if user == "o-2")
    async with gw.db.session() as s:
        found = await s.execute(
            text("""
            SELECT o.idem_key, o.purpose, o.status, o.xmin::text, s.xmin::text, s.status
            FROM outbox o JOIN users u ON u.id = o.user_id, course_signups s
            WHERE u.external_id = 'o-2' AND s.id = :s
            """),
            {"s": promoted},
        )
        [(key, purpose, status, queued_in, promoted_in, seat)] = found.all()
    assert (key, purpose, status) == (f"waitlist_promoted:{promoted}", "waitlist_promoted", "pending")
    assert seat == "confirmed"
    assert queued_in == promoted_in, "the notice was queued in the promotion's own transaction"
    assert gw.fake.sent == []
