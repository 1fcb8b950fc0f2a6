"""The access token while Redis is down: a process-local one, so late replies still go out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import redis.asyncio as aioredis

from bot.channels.wechat.api import WeChatAPI
from bot.channels.wechat.token import FallbackTokenStore, MemoryTokenStore, RedisTokenStore
from tests.conftest import APP_ID, REDIS_URL, SECRET
from tests.fakes.wechat_api import FakeWeChatAPI
from tests.gateway.support import free_port


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_with_redis_up_the_token_is_shared(
    http: aiohttp.ClientSession, fake_wechat: FakeWeChatAPI, redis_prefix: str
) -> None:
    redis = aioredis.Redis.from_url(REDIS_URL)
    shared = RedisTokenStore(redis, APP_ID, redis_prefix)
    api = WeChatAPI(http, fake_wechat.base_url, APP_ID, SECRET, FallbackTokenStore(shared))
    token = await api.access_token()
    assert await shared.get() == token
    ttl = await shared.ttl()
    assert ttl is not None and ttl > 3600
    await redis.aclose()


async def test_with_redis_down_sends_still_go_out(http: aiohttp.ClientSession, fake_wechat: FakeWeChatAPI) -> None:
    dead = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    local = MemoryTokenStore()
    api = WeChatAPI(
        http, fake_wechat.base_url, APP_ID, SECRET, FallbackTokenStore(RedisTokenStore(dead, APP_ID), local)
    )
    fake_wechat.interact("o-outage-1")
    await api.send_custom_text("o-outage-1", "稍后回复")
    await api.send_custom_text("o-outage-1", "再发一条")
    assert [m["text"]["content"] for m in fake_wechat.sent] == ["稍后回复", "再发一条"]
    assert fake_wechat.token_requests == 1, "the process-local token is reused, not fetched per send"
    assert await local.get() in fake_wechat.current_tokens
    await dead.aclose()
