"""Through the signed WeChat entry: receipts and consents reach the ledger, late replies the outbox."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text

from bot.channels.wechat.simulator import event_xml, text_xml
from bot.db.delivery.outbox import enqueue
from bot.model import Reply
from bot.outbound import Notice, Status
from bot.outbox import OutboxNotifier
from bot.outbox.worker import open_engine
from tests.conftest import GatewayFactory, make_settings
from tests.gateway.support import CountingRouter, poll
from tests.harness import ACCOUNT

SUCCESS = "success"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "wechat"
ACCEPTED = "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc"
REJECTED = "9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI"


async def test_a_template_receipt_is_recorded_against_its_send(make_gateway: GatewayFactory, redis_prefix: str) -> None:
    gw = await make_gateway(worker_in_serve=False)  # the test's own engine sends
    gw.fake.add_template("tpl-class-reminder", "thing1", "time2", "thing3")
    async with gw.db.session() as s:
        notice = Notice("wechat", "o-rcpt", "class_reminder", Reply(text="上课"), "rc:1", {"class": "摄影"})
        await enqueue(s, notice, time.time())
    settings = make_settings(redis_prefix, gw.fake.base_url, outbox_rate=1000.0)
    async with open_engine(settings) as engine:
        await engine.run_once()
    async with gw.db.session() as s:
        msg_id = (await s.execute(text("SELECT msg_id FROM outbox"))).scalar_one()
    fields = {"MsgID": msg_id, "Status": "failed:user block"}
    answer = await gw.post(event_xml("o-rcpt", "TEMPLATESENDJOBFINISH", account=ACCOUNT, fields=fields))
    assert answer.body in ("", SUCCESS)
    async with gw.db.session() as s:
        lines = (await s.execute(text("SELECT way, outcome, detail FROM delivery_attempts ORDER BY id"))).all()
    assert [tuple(x) for x in lines] == [("template", "sent", ""), ("template", "receipt", "failed:user block")]


async def test_a_receipt_while_the_database_is_down_is_refused_so_the_platform_sends_it_again(
    make_gateway: GatewayFactory,
) -> None:
    gw = await make_gateway(worker_in_serve=False)
    xml = (FIXTURES / "event_subscribe_msg_popup.xml").read_text(encoding="utf-8")
    gw.services.db.breaker.cooldown = 60  # down until the test says so, however slowly a loaded machine runs
    gw.services.db.breaker.failed(OSError("down"))  # the database is unreachable for the breaker's cool-down
    answer = await gw.post(xml)
    assert answer.status == 503 and answer.body == "busy"
    gw.services.db.breaker.succeeded()
    async with gw.db.session() as s:
        assert (await s.execute(text("SELECT count(*) FROM subscribe_consents"))).scalar_one() == 0
    again = await gw.post(xml)  # the platform's retry, once the database is back
    assert again.body in ("", SUCCESS)
    async with gw.db.session() as s:
        assert (await s.execute(text("SELECT count(*) FROM subscribe_consents"))).scalar_one() == 2


async def test_an_accepted_subscription_popup_grants_one_consent_a_rejection_clears(
    make_gateway: GatewayFactory,
) -> None:
    gw = await make_gateway()
    xml = (FIXTURES / "event_subscribe_msg_popup.xml").read_text(encoding="utf-8")  # accepts A, rejects B
    await gw.post(xml)
    await gw.post(xml.replace("<CreateTime>1718159204", "<CreateTime>1718159300"))  # later: a second acceptance
    async with gw.db.session() as s:
        rows = (await s.execute(text("SELECT template_id, remaining FROM subscribe_consents ORDER BY 1"))).all()
    assert [tuple(r) for r in rows] == [(REJECTED, 0), (ACCEPTED, 2)]


async def test_a_late_reply_goes_through_the_outbox_once(make_gateway: GatewayFactory, redis_prefix: str) -> None:
    router = CountingRouter(lambda msg: 0.6 if "慢" in msg.text else 0.0)
    gw = await make_gateway(router=router, wechat_reply_deadline=0.3, worker_in_serve=False)
    user = "o-late"
    first = await gw.post(text_xml(user, "慢慢来", account=ACCOUNT, msg_id="90001"), user)
    assert first.body == SUCCESS

    async def queued() -> bool:
        async with gw.db.session() as s:
            return bool((await s.execute(text("SELECT count(*) FROM outbox"))).scalar_one())

    assert await poll(queued, within=3.0)
    assert gw.fake.sent == []  # nothing goes out before a worker takes it
    settings = make_settings(redis_prefix, gw.fake.base_url, outbox_rate=1000.0)
    async with open_engine(settings) as engine:
        assert await engine.run_once() == 1
        assert await engine.run_once() == 0
    assert [m["text"]["content"] for m in gw.fake.sent] == ["第1次处理]]>：慢慢来"]
    async with gw.db.session() as s:
        purpose, status = (await s.execute(text("SELECT purpose, status FROM outbox"))).one()
    assert (purpose, status) == ("late_reply", "sent")


async def test_the_outbox_notifier_queues_once_per_key_and_nothing_for_a_rollback(
    make_gateway: GatewayFactory,
) -> None:
    gw = await make_gateway()
    notifier = OutboxNotifier(gw.db)
    notice = Notice("wechat", "o-n", "class_reminder", Reply(text="上课"), "n:1")
    assert (await notifier.send(notice)).status is Status.QUEUED
    again = await notifier.send(notice)
    assert (again.status, again.reason) == (Status.QUEUED, "already_queued")
    assert (await notifier.send(Notice("wechat", "o-n", "x", Reply(), "n:2"))).status is Status.DROPPED

    class Boom(Exception):
        pass

    try:
        async with gw.db.session() as s:
            await enqueue(s, Notice("wechat", "o-n", "signup", Reply(text="报名成功"), "n:3"), time.time())
            raise Boom
    except Boom:
        pass
    async with gw.db.session() as s:
        keys = (await s.execute(text("SELECT idem_key FROM outbox"))).scalars().all()
        seen = (await s.execute(text("SELECT extract(epoch FROM last_seen) FROM users"))).scalar_one()
    assert keys == ["n:1"]
    assert float(seen) == 0.0  # queuing a notice is not the user being seen


async def test_the_web_metrics_show_the_outbox_when_it_is_on(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(outbox=True)
    assert gw.http is not None
    async with gw.http.get(gw.url("/metrics")) as resp:
        body = await resp.text()
    assert 'longtuan_outbox_depth{status="pending"}' in body
    assert 'longtuan_delivery_quota_left{way="template"} 100000.0' in body
    assert "longtuan_outbox_oldest_due_seconds" in body


async def test_with_the_database_down_a_late_reply_goes_out_directly_and_other_notices_retry() -> None:
    from bot.db import Database
    from bot.notifier import RecordingNotifier
    from tests.gateway.support import free_port

    down = Database.from_url(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none")
    fallback = RecordingNotifier()
    notifier = OutboxNotifier(down, fallback=fallback)
    try:
        late = await notifier.send(Notice("wechat", "o-down", "late_reply", Reply(text="久等了"), "l:9"))
        other = await notifier.send(Notice("wechat", "o-down", "class_reminder", Reply(text="上课"), "r:9"))
    finally:
        await down.close()
    assert late.status is Status.SENT and fallback.sent == [("wechat", "o-down", "久等了")]
    assert (other.status, other.reason) == (Status.RETRY, "database_unavailable")
