"""Platform retries through HTTP: one handling per delivery, the same reply for every retry, late replies."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

import redis.asyncio as aioredis

from bot.channels.wechat.simulator import event_xml, next_msg_id, text_xml
from bot.channels.wechat.webhook import SUCCESS
from bot.model import Inbound
from tests.conftest import APP_ID, REDIS_URL, GatewayFactory
from tests.fakes.wechat_api import WINDOW_SECONDS
from tests.gateway.support import CountingRouter, metrics_text, poll, sample
from tests.harness import ACCOUNT

SEND = "/cgi-bin/message/custom/send"


def slow_when(word: str, seconds: float) -> Callable[[Inbound], float]:
    """A delay that makes only messages containing ``word`` slow."""
    return lambda msg: seconds if word in msg.text else 0.0


async def test_same_msgid_three_times_at_once_is_handled_once(make_gateway: GatewayFactory) -> None:
    router = CountingRouter(lambda msg: 0.3)
    gateway = await make_gateway(router=router)
    xml = text_xml("o-dedupe-1", "夜校怎么报名", account=ACCOUNT, msg_id=next_msg_id())

    answers = await asyncio.gather(*(gateway.post(xml, "o-dedupe-1") for _ in range(3)))
    assert router.total == 1
    assert [a.status for a in answers] == [200, 200, 200]
    assert answers[0].body.startswith("<xml>")
    assert answers[0].body == answers[1].body == answers[2].body, "plain mode: byte-identical replies"
    assert answers[0].text == "第1次处理]]>：夜校怎么报名"

    retry = await gateway.post(xml, "o-dedupe-1")
    assert retry.body == answers[0].body and router.total == 1
    metrics = await metrics_text(gateway)
    assert sample(metrics, "longtuan_duplicate_deliveries_total") == 3


async def test_same_msgid_in_safe_mode_decrypts_to_the_same_reply(make_gateway: GatewayFactory) -> None:
    router = CountingRouter(lambda msg: 0.3)
    gateway = await make_gateway(mode="safe", router=router)
    xml = text_xml("o-dedupe-2", "志愿时长怎么查", account=ACCOUNT, msg_id=next_msg_id())

    answers = await asyncio.gather(*(gateway.post(xml, "o-dedupe-2") for _ in range(3)))
    retry = await gateway.post(xml, "o-dedupe-2")
    assert router.total == 1
    assert all(a.status == 200 and "<Encrypt>" in a.body for a in [*answers, retry])
    assert answers[0].text == "第1次处理]]>：志愿时长怎么查"
    assert answers[0].fields == answers[1].fields == answers[2].fields == retry.fields


async def test_first_delivery_and_retries_get_the_same_bytes_across_a_second_boundary(
    make_gateway: GatewayFactory,
) -> None:
    """The first answer must be the cached body itself, not a second rendering a second later."""
    ticks = itertools.count()
    start = time.time()

    def ticking() -> float:
        return start + next(ticks)  # every reading of the clock is a second later

    router = CountingRouter(lambda msg: 0.2)
    gateway = await make_gateway(router=router, clock=ticking)
    xml = text_xml("o-dedupe-3", "你好", account=ACCOUNT, msg_id=next_msg_id())
    answers = await asyncio.gather(*(gateway.post(xml, "o-dedupe-3") for _ in range(3)))
    retry = await gateway.post(xml, "o-dedupe-3")
    assert router.total == 1
    assert answers[0].body == answers[1].body == answers[2].body == retry.body


async def test_same_event_three_times_at_once_is_handled_once(make_gateway: GatewayFactory) -> None:
    router = CountingRouter(lambda msg: 0.3)
    gateway = await make_gateway(router=router)
    at = int(time.time())
    # Events have no MsgId: FromUserName + CreateTime + Event + EventKey identify the delivery.
    xml = event_xml("o-dedupe-4", "CLICK", "NIGHT_SCHOOL", account=ACCOUNT, at=at)

    answers = await asyncio.gather(*(gateway.post(xml, "o-dedupe-4") for _ in range(3)))
    retry = await gateway.post(xml, "o-dedupe-4")
    assert router.total == 1
    assert answers[0].text == "第1次处理]]>：NIGHT_SCHOOL"
    assert answers[0].body == answers[1].body == answers[2].body == retry.body

    # Another key, or another second, is another delivery.
    other_key = await gateway.post(event_xml("o-dedupe-4", "CLICK", "HELP", account=ACCOUNT, at=at), "o-dedupe-4")
    later = await gateway.post(event_xml("o-dedupe-4", "CLICK", "NIGHT_SCHOOL", account=ACCOUNT, at=at + 1))
    assert router.total == 3
    assert other_key.text.endswith("HELP") and later.text.startswith("第3次")


async def test_slow_handler_answers_success_then_sends_once(make_gateway: GatewayFactory, redis_prefix: str) -> None:
    router = CountingRouter(slow_when("慢", 0.8))
    gateway = await make_gateway(router=router, wechat_reply_deadline=0.3)
    user = "o-slow-1"
    xml = text_xml(user, "慢慢来", account=ACCOUNT, msg_id=next_msg_id())

    started = time.monotonic()
    first = await gateway.post(xml, user)
    took = time.monotonic() - started
    assert first.status == 200 and first.body == SUCCESS
    assert 0.25 <= took < 0.7, took

    # WeChat's retry arrives while the handler still runs: it waits its own deadline, then "success".
    retry = await gateway.post(xml, user)
    assert retry.status == 200 and retry.body == SUCCESS

    async def sent() -> bool:
        return len(gateway.fake.sent) >= 1

    assert await poll(sent, within=3.0), "the late reply never reached the customer-service API"
    assert gateway.fake.sent == [{"touser": user, "msgtype": "text", "text": {"content": "第1次处理]]>：慢慢来"}}]

    after = await gateway.post(xml, user)  # a retry after the late send: still nothing to say
    assert after.body == SUCCESS
    await asyncio.sleep(0.2)
    assert len(gateway.fake.sent) == 1 and router.total == 1

    metrics = await metrics_text(gateway)
    assert sample(metrics, "longtuan_late_sends_total", result="queued") == 1  # sent by the app's own worker
    assert sample(metrics, "longtuan_late_sends_total", result="failed") == 0
    assert sample(metrics, "longtuan_deferred_replies_total") == 1

    # Everything the gateway wrote, the access token included, expires by itself.
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        names = [k.decode() async for k in client.scan_iter(match=f"{redis_prefix}*")]
        assert f"{redis_prefix}wx:token:{APP_ID}" in names, names
        for name in names:
            assert await client.pttl(name) > 0, f"{name} has no TTL"
    finally:
        await client.aclose()


async def test_without_the_outbox_a_late_reply_outside_the_window_counts_as_failed(
    make_gateway: GatewayFactory,
) -> None:
    router = CountingRouter(slow_when("慢", 0.6))
    # Sent at once, the refusal is the gateway's to count (the outbox's worker re-plans it instead).
    gateway = await make_gateway(router=router, wechat_reply_deadline=0.2, outbox=False)
    user = "o-slow-2"
    gateway.fake.interact(user, at=time.time() - WINDOW_SECONDS - 3600)  # last heard of 49 hours ago

    first = await gateway.post(text_xml(user, "慢一点", account=ACCOUNT))  # not through say(): no new interaction
    assert first.status == 200 and first.body == SUCCESS

    async def failed() -> bool:
        return sample(await metrics_text(gateway), "longtuan_late_sends_total", result="failed") == 1

    assert await poll(failed, within=3.0), "the refused late send was not counted"
    assert gateway.fake.sent == []
    assert (SEND, "45015") in gateway.fake.calls
    assert sample(await metrics_text(gateway), "longtuan_late_sends_total", result="sent") == 0

    # The gateway is unharmed: the next message gets its passive reply.
    answer = await gateway.post(text_xml(user, "在吗", account=ACCOUNT))
    assert answer.status == 200 and answer.text.endswith("：在吗")


async def test_platform_hangs_up_before_the_answer_nothing_is_lost(make_gateway: GatewayFactory) -> None:
    """WeChat gives up on a connection (its 5 s passed, a network cut): the answer cannot be
    written, but the delivery still finishes, so its retry gets the reply and the handler ran once."""
    router = CountingRouter(slow_when("慢", 0.4))
    gateway = await make_gateway(router=router)
    user = "o-hangup-1"
    xml = text_xml(user, "慢慢说", account=ACCOUNT, msg_id=next_msg_id())
    query, body = gateway.sim.signed(xml)
    url = gateway.server.make_url("/wechat").with_query(query)

    _, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(
        f"POST {url.raw_path_qs} HTTP/1.1\r\nHost: {url.host}\r\nContent-Type: text/xml\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    await asyncio.sleep(0.1)  # the handler is running
    writer.transport.abort()  # a reset, not a polite close

    await asyncio.sleep(0.5)  # the handler has finished and tried to answer
    retry = await gateway.post(xml, user)
    assert retry.status == 200 and retry.text == "第1次处理]]>：慢慢说"
    assert router.total == 1
    assert sample(await metrics_text(gateway), "longtuan_requests_total", channel="wechat", outcome="duplicate") == 1
