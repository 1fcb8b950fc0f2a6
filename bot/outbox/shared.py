"""What the workers of a deployment share besides the rows: ways paused for the day, and day counters.

``RedisShared`` serves any number of workers on any hosts. ``LocalShared`` keeps the same in this
process, for the one worker inside a ``longtuan serve`` without Redis (a first run): a process
without Redis is alone (``--workers`` and ``longtuan worker`` need Redis), so it is then the
deployment's only sender.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.breaker import Breaker

#: Seconds a way that needs Redis is taken as paused while Redis cannot be reached.
UNKNOWN_PAUSE = 60.0


class Shared(Protocol):
    async def paused(self, ways: Sequence[str]) -> dict[str, float]:
        """The ways paused now, each with the epoch second its pause ends."""
        ...

    async def pause(self, way: str, until: float, ttl: int) -> None:
        """Pause ``way`` until ``until``; the record lapses after ``ttl`` seconds."""
        ...

    async def count(self, name: str, ttl: int) -> int:
        """Add one to the counter ``name`` (kept ``ttl`` seconds) and return its new value."""
        ...


class RedisShared:
    """In Redis. While Redis cannot be reached (``breaker``), nothing is known: every way that
    depends on a count here (template, subscription) is taken as paused for a minute and every
    count as used up, so that only what PostgreSQL alone can decide goes out (customer-service
    messages: their window and allowance are in the users and outbox tables)."""

    def __init__(
        self, redis: aioredis.Redis, prefix: str, breaker: Breaker, clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = redis
        self._pause = f"{prefix}outbox:pause:"
        self._count = f"{prefix}outbox:"
        self._breaker = breaker
        self._clock = clock

    async def paused(self, ways: Sequence[str]) -> dict[str, float]:
        if not self._breaker.is_open:
            try:
                values = await self._redis.mget([self._pause + w for w in ways])
            except (RedisError, OSError) as exc:
                self._breaker.failed(exc)
            else:
                return {w: float(v) for w, v in zip(ways, values, strict=True) if v is not None}
        return dict.fromkeys(ways, self._clock() + UNKNOWN_PAUSE)

    async def pause(self, way: str, until: float, ttl: int) -> None:
        if not self._breaker.is_open:
            try:
                await self._redis.set(self._pause + way, str(until), ex=ttl)
            except (RedisError, OSError) as exc:
                self._breaker.failed(exc)  # paused() answers "paused" meanwhile

    async def count(self, name: str, ttl: int) -> int:
        if not self._breaker.is_open:
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.incr(self._count + name)
                    pipe.expire(self._count + name, ttl)
                    used, _ = await pipe.execute()
            except (RedisError, OSError) as exc:
                self._breaker.failed(exc)
            else:
                return int(used)
        return sys.maxsize


class LocalShared:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._pauses: dict[str, tuple[float, float]] = {}  # way -> (until, lapses at)
        self._counts: dict[str, tuple[int, float]] = {}  # name -> (value, lapses at)

    async def paused(self, ways: Sequence[str]) -> dict[str, float]:
        now = self._clock()
        return {w: p[0] for w in ways if (p := self._pauses.get(w)) is not None and p[1] > now}

    async def pause(self, way: str, until: float, ttl: int) -> None:
        self._pauses[way] = (until, self._clock() + ttl)

    async def count(self, name: str, ttl: int) -> int:
        now = self._clock()
        self._counts = {k: v for k, v in self._counts.items() if v[1] > now}  # a day's counter, or a few
        value = self._counts.get(name, (0, 0.0))[0] + 1
        self._counts[name] = (value, now + ttl)
        return value
