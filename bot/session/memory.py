"""The in-process store: the same contract as RedisStore, for a first run on a laptop.

It lives and dies with the process and is not shared between workers; production runs on Redis.
Expired records are swept lazily on access and by a bounded sweep every few thousand writes.
"""

from __future__ import annotations

import asyncio
import time

from bot.errors import LockTimeout
from bot.session.base import PENDING, Begin, Clock, Session, SessionKey


class MemoryStore:
    def __init__(
        self,
        *,
        session_ttl: int = 7 * 24 * 3600,
        dedupe_ttl: int = 300,
        lock_ms: int = 10_000,
        lock_wait: float = 4.0,
        clock: Clock = time.time,
    ) -> None:
        self.session_ttl = session_ttl
        self.dedupe_ttl = dedupe_ttl
        self.lock_ms = lock_ms
        self.lock_wait = lock_wait
        self._clock = clock
        self._values: dict[str, tuple[str, float]] = {}
        #: user -> (owner, released, expires at (monotonic)): a lock whose holder vanished
        #: (a cancelled task) lapses after lock_ms, as the Redis lock's PX does.
        self._locks: dict[str, tuple[str, asyncio.Event, float]] = {}
        self._writes = 0
        self._due: dict[str, float] = {}

    def _get(self, name: str) -> str | None:
        item = self._values.get(name)
        if item is None:
            return None
        if item[1] <= self._clock():
            del self._values[name]
            return None
        return item[0]

    def _set(self, name: str, value: str, ttl: float) -> None:
        self._values[name] = (value, self._clock() + ttl)
        self._writes += 1
        if self._writes % 4096 == 0:
            now = self._clock()
            for stale in [k for k, (_, exp) in self._values.items() if exp <= now][:10_000]:
                del self._values[stale]

    async def begin(self, dedupe: str | None, key: SessionKey, owner: str) -> Begin:
        if dedupe:
            record = self._get(f"d:{dedupe}")
            if record is not None:
                return Begin(duplicate=True, result=record)
            self._set(f"d:{dedupe}", PENDING, self.dedupe_ttl)
        lock_key = str(key)
        deadline = time.monotonic() + self.lock_wait
        while lock_key in self._locks:
            _, released, lapses = self._locks[lock_key]
            if lapses <= time.monotonic():
                del self._locks[lock_key]
                break
            try:
                await asyncio.wait_for(released.wait(), max(0.0, min(deadline, lapses) - time.monotonic()))
            except TimeoutError:
                if time.monotonic() < deadline:
                    continue  # the holder's lock lapsed: take it over
                if dedupe:
                    await self.forget(dedupe)
                raise LockTimeout(f"conversation {key} stayed locked") from None
        self._locks[lock_key] = (owner, asyncio.Event(), time.monotonic() + self.lock_ms / 1000)
        return Begin(duplicate=False, session=Session.loads(self._get(f"s:{key}"), self._clock()), owner=owner)

    async def finish(self, dedupe: str | None, key: SessionKey, owner: str, session: Session, result: str) -> bool:
        lock_key = str(key)
        held = self._locks.get(lock_key)
        mine = held is not None and held[0] == owner
        if held is not None and mine:
            if session.changed and not session.empty:
                self._set(f"s:{key}", session.dumps(), self.session_ttl)
            elif session.changed:
                self._values.pop(f"s:{key}", None)
            else:
                current = self._get(f"s:{key}")
                if current is not None:
                    self._set(f"s:{key}", current, self.session_ttl)
            del self._locks[lock_key]
            held[1].set()
        if dedupe:
            self._set(f"d:{dedupe}", result, self.dedupe_ttl)
        return mine

    async def track_flow(self, key: SessionKey, expires_at: float | None) -> None:
        if expires_at is None:
            self._due.pop(str(key), None)
        else:
            self._due[str(key)] = expires_at

    async def due_flows(self, now: float, limit: int = 500) -> list[SessionKey]:
        due = sorted((at, name) for name, at in self._due.items() if at <= now)[:limit]
        return [SessionKey.parse(name) for _, name in due]

    async def result(self, dedupe: str) -> str | None:
        return self._get(f"d:{dedupe}")

    async def forget(self, dedupe: str) -> None:
        self._values.pop(f"d:{dedupe}", None)

    async def remember_once(self, name: str, value: str, ttl: int) -> str | None:
        stored = self._get(name)
        if stored is None:
            self._set(name, value, ttl)
        return stored

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._values.clear()
