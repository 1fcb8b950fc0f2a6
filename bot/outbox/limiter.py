"""The send pacer shared by every worker: ``limits``' moving window over Redis.

``limits`` (a maintained rate-limiting library) keeps each window as a Redis list of
timestamps, trimmed and checked by one Lua script per hit, so all workers on all hosts together
stay at or under the rate in *any* window, which is how WeChat counts (a fixed window would
allow twice the rate across a boundary). A worker refused a hit sleeps until the window's oldest
entry leaves it. The timestamps are each worker's own clock: hosts must keep NTP time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

#: The shortest sleep between refused hits: a window's reset time is a float of the past at times.
_MIN_SLEEP = 0.002


def per_second(rate: float) -> RateLimitItem:
    """``rate`` calls a second as a window ``limits`` keeps exactly (whole calls in one second or minute)."""
    if rate >= 1:
        return RateLimitItemPerSecond(int(rate))
    return RateLimitItemPerMinute(max(1, int(rate * 60)))


def storage_uri(redis_url: str) -> str:
    """limits names its asyncio storages ``async+redis://``, ``async+rediss://``, ``async+redis+unix://``."""
    if redis_url.startswith("unix://"):
        return "async+redis+" + redis_url
    return "async+" + redis_url


class Limiter:
    """Named rates (``api``: every send call; ``mass``: mass-send calls) shared through Redis."""

    def __init__(
        self, redis_url: str, prefix: str, rates: Mapping[str, RateLimitItem], redis: aioredis.Redis | None = None
    ) -> None:
        # With ``redis`` given, limits uses its connection pool: one pool per process, closed by its owner.
        options: dict[str, Any] = {} if redis is None else {"connection_pool": redis.connection_pool}
        self._storage = RedisStorage(
            storage_uri(redis_url), implementation="redispy", key_prefix=f"{prefix}limits", **options
        )
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._rates = dict(rates)

    async def acquire(self, *names: str) -> float:
        """Wait until every named rate allows one more call; returns the seconds waited."""
        started = time.monotonic()
        for name in names:
            item = self._rates[name]
            while not await self._limiter.hit(item, name):
                stats = await self._limiter.get_window_stats(item, name)
                await asyncio.sleep(max(_MIN_SLEEP, stats.reset_time - time.time()))
        return time.monotonic() - started

    async def clear(self) -> None:
        for name, item in self._rates.items():
            await self._limiter.clear(item, name)
