"""Finding 6: the de-duplication record lives only in Redis. A delivery WeChat repeats across a
Redis outage can be handled twice; what it changes must be safe to change twice (a database
constraint), and what cannot be is answered "busy" (README, "What happens to bad input")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.channels.wechat.simulator import event_xml, text_xml
from bot.db.models import User
from tests.conftest import GatewayFactory
from tests.gateway.support import CountingRouter, RedisServer
from tests.harness import ACCOUNT


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(tmp_path)
    await server.start()
    yield server
    await server.kill()


async def test_a_delivery_repeated_after_redis_restarted_empty_is_handled_again(
    make_gateway: GatewayFactory, private_redis: RedisServer
) -> None:
    """What the README says honestly: the record of a handled delivery is gone with Redis."""
    counting = CountingRouter()
    gateway = await make_gateway(redis_url=private_redis.url, router=counting)
    xml = text_xml("o-dup-1", "夜校怎么报名", account=ACCOUNT, msg_id="24580199000000001")
    first = await gateway.post(xml)
    again = await gateway.post(xml)  # a retry while Redis is up: the cached answer
    assert first.status == again.status == 200 and again.body == first.body and counting.total == 1

    await private_redis.kill()
    await private_redis.start()  # no persistence: the de-duplication record is gone

    redelivered = await gateway.post(xml)
    assert redelivered.status == 200
    assert counting.total == 2


async def test_a_follow_repeated_while_redis_is_down_is_stored_once(
    make_gateway: GatewayFactory, private_redis: RedisServer
) -> None:
    gateway = await make_gateway(redis_url=private_redis.url)
    await private_redis.kill()
    follow = event_xml("o-dup-2", "subscribe", account=ACCOUNT, at=1_796_000_000)
    answers = [await gateway.post(follow), await gateway.post(follow)]
    # Both are answered (without Redis nothing tells them apart) ...
    assert [a.text for a in answers] == [gateway.expected("welcome.subscribe")] * 2
    # ... and the follow is one row: the users upsert is keyed by (channel, external_id).
    await gateway.flush_users()
    async with gateway.db.session() as s:
        count = (await s.execute(select(func.count()).select_from(User).where(User.external_id == "o-dup-2"))).scalar()
    assert count == 1
