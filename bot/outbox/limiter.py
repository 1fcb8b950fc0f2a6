"""The send pacer shared by every worker: evenly spaced slots (GCRA) handed out by one Lua script in Redis.

Why not a library: ``limits`` (the maintained choice, tried first) offers fixed, moving and
sliding windows. Each lets a whole window's calls go at once at a window's start and tells a
refused caller only when to try again, so workers poll; WeChat counts calls in *any* window,
and a burst at a boundary plus network jitter lands over the limit there. Measured with
``bench.campaign`` at 100 calls/s: 88 refusals (45011) in 938 calls, and 69 % of the rate
sustained once the refused calls had been retried. GCRA (the generic cell rate algorithm) gives
each call its own slot, ``1/rate`` after the previous one, in one round trip: the caller sleeps
until its slot, nobody polls, and any window of the platform sees at most the rate.

The script reads Redis's own clock (``TIME``), so workers on different hosts share one timeline.
Calls are spaced ``MARGIN`` (0.75 %) wider than the platform's rate, and a slot may lie up to
``CATCH_UP`` (0.15 s) in the past: a sender woken late by a busy event loop goes at once instead of
leaving its slot unused, so the rate is kept on average. WeChat counts a minute (45011): in any
minute it sees at most (60 s + CATCH_UP) / (1 + MARGIN) = 59.7 s worth of calls, leaving 0.3 s for
the spread between a slot and the platform's receipt of the call (0.5 % margin and 0.25 s of
catch-up drew 7 refusals in one run of ``bench.campaign`` with the fake's loop lagging 58 ms).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.breaker import Breaker

#: How much wider than the platform's rate calls are spaced, and how far behind a late sender may
#: catch up (see the module's docstring).
MARGIN = 0.0075
CATCH_UP = 0.15

# KEYS[1]: the rate's theoretical arrival time (µs, Redis clock); ARGV[1]: µs between calls;
# ARGV[2]: µs a slot may lie in the past. Returns how many µs the caller waits for its slot (0 or
# more). The key lives as long as slots are booked.
_SLOT = """
local now = redis.call('TIME')
local t = tonumber(now[1]) * 1000000 + tonumber(now[2])
local step = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(t - tonumber(ARGV[2]), tat)
local ttl = math.max(1, math.floor((slot + step - t) / 1000)) + 1000
redis.call('SET', KEYS[1], string.format('%d', slot + step), 'PX', ttl)
return math.max(0, slot - t)
"""


def spacing(per_second: float) -> int:
    """Microseconds between two calls at ``per_second``, with the margin."""
    return int(1_000_000 / per_second * (1 + MARGIN))


class Pacer(Protocol):
    async def acquire(self, *names: str) -> float:
        """Book a slot in each named rate and sleep until the last of them; returns the seconds waited."""
        ...


class Limiter:
    """Named rates (``api``: every send call; ``mass``: mass-send calls), in calls a second."""

    def __init__(self, redis: aioredis.Redis, prefix: str, rates: Mapping[str, float]) -> None:
        self._redis = redis
        self._script: Any = redis.register_script(_SLOT)
        self._keys = {name: f"{prefix}outbox:rate:{name}" for name in rates}
        self._steps = {name: spacing(rate) for name, rate in rates.items()}
        self._catch_up = int(CATCH_UP * 1_000_000)

    async def acquire(self, *names: str) -> float:
        """Book a slot in each named rate and sleep until the last of them; returns the seconds waited."""
        started = time.monotonic()
        for name in names:
            args = [self._steps[name], self._catch_up]
            wait_us = int(await self._script(keys=[self._keys[name]], args=args))
            if wait_us > 0:
                await asyncio.sleep(wait_us / 1_000_000)
        return time.monotonic() - started


class LocalLimiter:
    """The same slots kept in this process: the one worker of a ``longtuan serve`` without Redis.

    Without Redis there is one process (``--workers`` and ``longtuan worker`` need Redis), so its
    rate is the deployment's; the clock is this process's monotonic one.
    """

    def __init__(self, rates: Mapping[str, float]) -> None:
        self._steps = {name: spacing(rate) / 1_000_000 for name, rate in rates.items()}
        self._tat = dict.fromkeys(rates, 0.0)

    async def acquire(self, *names: str) -> float:
        started = time.monotonic()
        for name in names:
            now = time.monotonic()
            slot = max(now - CATCH_UP, self._tat[name])
            self._tat[name] = slot + self._steps[name]
            if slot > now:
                await asyncio.sleep(slot - now)
        return time.monotonic() - started


class Resilient:
    """The shared limiter; while its Redis cannot be reached (``breaker``), this process's own slots.

    A late reply or a customer-service notice must not wait for Redis to come back. Alone, a
    worker keeps to the rate; several workers together may exceed it for the outage, and the
    platform's minute limit (45011) is then retried with back-off like any busy answer.
    """

    def __init__(self, shared: Limiter, local: LocalLimiter, breaker: Breaker) -> None:
        self._shared = shared
        self._local = local
        self._breaker = breaker

    async def acquire(self, *names: str) -> float:
        if not self._breaker.is_open:
            try:
                return await self._shared.acquire(*names)
            except (RedisError, OSError) as exc:
                self._breaker.failed(exc)
        return await self._local.acquire(*names)
