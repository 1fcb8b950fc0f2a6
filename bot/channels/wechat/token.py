"""The WeChat access-token cache: one token per app shared by every worker, one refresher at a time."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

from redis.asyncio.lock import Lock
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError, LockNotOwnedError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

if TYPE_CHECKING:
    from redis.asyncio import Redis

#: The shared store cannot be reached (as opposed to answering an error).
_OUTAGE = (RedisConnectionError, RedisTimeoutError, OSError)

#: Deletes KEYS[1] only while it still holds ARGV[1]. Used both to release the refresh lock (only
#: its owner may release it, even after the PX expiry handed it to someone else) and to invalidate
#: a token (another worker may already have stored a fresh one, which must survive).
_COMPARE_AND_DELETE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


#: Extends KEYS[1]'s expiry to ARGV[2] ms only while it still holds ARGV[1]: the refresh lock's
#: holder keeps it while a slow fetch (time-outs, retries of errcode -1) outlasts the first TTL.
_COMPARE_AND_PEXPIRE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


class TokenStore(Protocol):
    """Where the current access token lives, and the lock that elects a single refresher."""

    async def get(self) -> str | None: ...

    async def set(self, token: str, ttl: int) -> None: ...

    async def ttl(self) -> int | None:
        """Seconds before the stored token is dropped; None when nothing is stored."""
        ...

    async def invalidate(self, token: str) -> None:
        """Forget ``token``, but only if it is still the stored one."""
        ...

    def lock(self) -> AbstractAsyncContextManager[None]:
        """Held while fetching a new token; raises TimeoutError if it cannot be taken in time."""
        ...


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


class RedisTokenStore:
    """Token shared through Redis, so every process spends the same token.

    WeChat caps token fetches per day (2000) and each fetch makes older tokens "not latest"
    after about five minutes, so workers must share one token instead of fetching their own.
    """

    def __init__(
        self,
        redis: Redis,
        app_id: str,
        prefix: str = "lt:",
        *,
        lock_ttl_ms: int = 10_000,
        lock_timeout: float = 10.0,
        poll_interval: float = 0.05,
    ) -> None:
        self._redis = redis
        self.key = f"{prefix}wx:token:{app_id}"
        self.lock_key = f"{self.key}:lock"
        self._lock_ttl_ms = lock_ttl_ms
        self._lock_timeout = lock_timeout
        self._poll_interval = poll_interval
        self._compare_and_delete = redis.register_script(_COMPARE_AND_DELETE)

    async def get(self) -> str | None:
        return _as_text(await self._redis.get(self.key))

    async def set(self, token: str, ttl: int) -> None:
        if ttl <= 0:
            raise ValueError(f"token ttl must be positive, got {ttl}")
        await self._redis.set(self.key, token, ex=ttl)

    async def ttl(self) -> int | None:
        left = int(await self._redis.ttl(self.key))
        return left if left >= 0 else None  # -2: no such key, -1: no expiry (never written so)

    async def invalidate(self, token: str) -> None:
        await self._compare_and_delete(keys=[self.key], args=[token])

    def lock(self) -> AbstractAsyncContextManager[None]:
        return self._locked()

    @asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        # redis-py's Lock: SET NX PX with a random token, released only by its owner. The TTL only
        # frees the lock of a holder that died; a live one renews it every third of it
        # (``reacquire``), however long the fetch takes (each attempt may wait out its time-out).
        lock = self._redis.lock(
            self.lock_key,
            timeout=self._lock_ttl_ms / 1000,
            sleep=self._poll_interval,
            blocking_timeout=self._lock_timeout,
        )
        if not await lock.acquire():
            raise TimeoutError(f"token refresh lock {self.lock_key} busy for {self._lock_timeout}s")
        renewing = asyncio.create_task(self._renew(lock))
        try:
            yield
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            with contextlib.suppress(LockError):
                await lock.release()  # LockError: it lapsed and someone else holds it now

    async def _renew(self, lock: Lock) -> None:
        while True:
            await asyncio.sleep(self._lock_ttl_ms / 3000)
            try:
                await lock.reacquire()
            except LockNotOwnedError:
                return  # lost it (Redis restarted, or paused past the TTL): nothing left to renew
            except (RedisError, OSError):
                continue  # the lock lapses by itself if Redis stays away; the fetch goes on


class MemoryTokenStore:
    """Token kept in this process: for the terminal chat, tests and single-process deployments."""

    def __init__(self, *, lock_timeout: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self._lock_timeout = lock_timeout
        self._clock = clock

    async def get(self) -> str | None:
        if self._token is not None and self._clock() >= self._expires_at:
            self._token = None
        return self._token

    async def set(self, token: str, ttl: int) -> None:
        if ttl <= 0:
            raise ValueError(f"token ttl must be positive, got {ttl}")
        self._token = token
        self._expires_at = self._clock() + ttl

    async def ttl(self) -> int | None:
        if await self.get() is None:
            return None
        return max(0, int(self._expires_at - self._clock()))

    async def invalidate(self, token: str) -> None:
        if self._token == token:
            self._token = None

    def lock(self) -> AbstractAsyncContextManager[None]:
        return self._locked()

    @asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        try:
            await asyncio.wait_for(self._lock.acquire(), self._lock_timeout)
        except TimeoutError:
            raise TimeoutError(f"token refresh lock busy for {self._lock_timeout}s") from None
        try:
            yield
        finally:
            self._lock.release()


class FallbackTokenStore:
    """The shared store first; while it is unreachable, a token of this process's own.

    Without it a Redis outage would also stop every late reply and campaign send, which need a
    token. A token fetched during the outage makes the shared one "not latest" a few minutes
    later; other workers then get 40001 and refresh once (WeChatAPI does), so an outage costs a
    refresh, not messages.
    """

    def __init__(self, primary: TokenStore, fallback: TokenStore | None = None) -> None:
        self.primary = primary
        self.fallback = fallback or MemoryTokenStore()

    async def get(self) -> str | None:
        try:
            token = await self.primary.get()
        except _OUTAGE:
            return await self.fallback.get()
        return token if token is not None else await self.fallback.get()

    async def set(self, token: str, ttl: int) -> None:
        await self.fallback.set(token, ttl)
        with contextlib.suppress(*_OUTAGE):
            await self.primary.set(token, ttl)

    async def ttl(self) -> int | None:
        try:
            return await self.primary.ttl()
        except _OUTAGE:
            return await self.fallback.ttl()

    async def invalidate(self, token: str) -> None:
        await self.fallback.invalidate(token)
        with contextlib.suppress(*_OUTAGE):
            await self.primary.invalidate(token)

    def lock(self) -> AbstractAsyncContextManager[None]:
        return self._locked()

    @asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        shared = self.primary.lock()
        try:
            await shared.__aenter__()
        except _OUTAGE:
            async with self.fallback.lock():
                yield
            return
        try:
            yield
        finally:
            with contextlib.suppress(*_OUTAGE):
                await shared.__aexit__(None, None, None)
