"""The WeChat Official Account channel: callback webhook, protocol, outbound API."""

from __future__ import annotations

import time
from collections.abc import Callable

import aiohttp
import redis.asyncio as aioredis

from bot.channels.wechat.api import WeChatAPI
from bot.channels.wechat.token import FallbackTokenStore, MemoryTokenStore, RedisTokenStore, TokenStore
from bot.settings import Settings


def make_api(
    http: aiohttp.ClientSession,
    settings: Settings,
    redis: aioredis.Redis | None,
    clock: Callable[[], float] = time.time,
    *,
    retries: int = 3,
) -> WeChatAPI:
    """The API client of the configured account; the token is shared through Redis when there is one
    (and kept in the process while Redis is unreachable). ``retries=0`` leaves a busy platform to the
    caller (the delivery worker retries with its own back-off)."""
    tokens: TokenStore = MemoryTokenStore()
    if redis is not None:
        tokens = FallbackTokenStore(RedisTokenStore(redis, settings.wechat_app_id, settings.redis_prefix))
    return WeChatAPI(
        http,
        settings.wechat_api_base,
        settings.wechat_app_id,
        settings.wechat_app_secret.get_secret_value(),
        tokens,
        retries=retries,
        clock=clock,
    )
