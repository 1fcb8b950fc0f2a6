"""The one-scheduler lock: redis-py's ``Lock`` in Redis, extended by its holder every third of its TTL.

A second ``python -m scheduler`` finds the lock taken and stands by, trying again every third of
the TTL; when the first dies its lock lapses (at most one TTL later) and the second takes over.
A holder that cannot extend its lock (Redis lost it, or Redis was unreachable for longer than the
TTL, so another may have taken it) stops scheduling at once: two schedulers never run together
for longer than the time a holder needs to notice, a third of the TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import redis.asyncio as aioredis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

log = logging.getLogger("longtuan.scheduler.lock")


class SchedulerLock:
    def __init__(self, redis: aioredis.Redis, key: str, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self.key = key
        self._lock: Lock = redis.lock(key, timeout=ttl, blocking=False, thread_local=False)

    async def acquire(self) -> bool:
        try:
            return bool(await self._lock.acquire(blocking=False))
        except RedisError as exc:
            log.warning("scheduler lock not taken: Redis unreachable", extra={"error": str(exc)})
            return False

    async def wait(self, stop: asyncio.Event) -> bool:
        """Take the lock, standing by while another scheduler holds it; False if ``stop`` came first."""
        announced = False
        while not stop.is_set():
            if await self.acquire():
                return True
            if not announced:
                log.warning("another scheduler holds the lock; standing by", extra={"key": self.key})
                announced = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.ttl / 3)
        return False

    async def keep(self, lost: asyncio.Event) -> None:
        """Extend the lock every third of its TTL until cancelled; set ``lost`` when it cannot be kept."""
        held_until = time.monotonic() + self.ttl
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                await self._lock.extend(self.ttl, replace_ttl=True)
                held_until = time.monotonic() + self.ttl
            except LockError:
                log.error("scheduler lock lost to another process; stopping")
                lost.set()
                return
            except RedisError as exc:
                if time.monotonic() >= held_until:
                    log.error("scheduler lock lapsed while Redis was unreachable; stopping", extra={"error": str(exc)})
                    lost.set()
                    return
                log.warning("scheduler lock not extended yet: Redis unreachable", extra={"error": str(exc)})

    async def release(self) -> None:
        with contextlib.suppress(LockError, RedisError):  # lapsed or unreachable: it expires by itself
            await self._lock.release()
