"""The Redis store: dedupe, per-user lock and session in two round trips per message.

Key format (``P`` is ``LONGTUAN_REDIS_PREFIX``, default ``lt:``; every key has a TTL):

    P d:<dedupe>                 delivery record: PENDING, then the cached reply   EX dedupe_ttl
    P l:<channel>:<bot>:<user>   conversation lock, value = owner token            PX lock_ms
    P s:<channel>:<bot>:<user>   session JSON {"s": state, "d": data, "x": expiry,  EX session_ttl
                                 "m": next page, "t": script}
    P f:due                      sorted set: conversations whose flow has a clean-up, by when it
                                 times out (the ``flows.expire`` job sweeps it)       EX session_ttl
    P r:<timestamp>:<nonce>      replay record: hash of the body (bot.channels.wechat.webhook)
                                                                                      EX replay window
    P wx:token:<app id>          WeChat access token (bot.channels.wechat.token)    EX its lifetime
    P wx:token:<app id>:lock     the token refresh lock (redis-py ``Lock``)         PX its timeout

The three keys of one message are touched by one Lua script each way, so they must live on one
node: this store targets a single Redis (or a primary with replicas), not Redis Cluster. The two
scripts go down one pipelined connection of the store's own (``bot.session.resp``), opened with the
client's settings; the other commands use the redis-py client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.breaker import Breaker
from bot.errors import LockTimeout, Unavailable
from bot.session.base import PENDING, Begin, Clock, Session, SessionKey
from bot.session.resp import RespPipe

# The TTLs (DEDUPE_TTL, LOCK_MS, SESSION_TTL) are written into the script text per store:
# every argument a message sends is packed by redis-py on the hot path.

# KEYS: dedupe, lock, session.  ARGV: owner.
# Returns {0, record} for a delivery seen before, {1, session} when the lock is ours, {2} when busy.
_BEGIN = """
if KEYS[1] ~= '' then
  if not redis.call('SET', KEYS[1], PENDING, 'NX', 'EX', DEDUPE_TTL) then
    return {0, redis.call('GET', KEYS[1])}
  end
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', LOCK_MS) then
  return {1, redis.call('GET', KEYS[3])}
end
return {2}
"""

# KEYS: dedupe, lock, session.  ARGV: owner, session ('' unchanged, '-' delete), result.
# A lock that expired and was taken by another message is not ours: then the session is left
# alone (the newer holder owns it) but the reply is still cached.
_FINISH = """
local mine = redis.call('GET', KEYS[2]) == ARGV[1]
if mine then
  if ARGV[2] == '-' then
    redis.call('DEL', KEYS[3])
  elseif ARGV[2] ~= '' then
    redis.call('SET', KEYS[3], ARGV[2], 'EX', SESSION_TTL)
  else
    redis.call('EXPIRE', KEYS[3], SESSION_TTL)
  end
  redis.call('DEL', KEYS[2])
end
if KEYS[1] ~= '' then
  redis.call('SET', KEYS[1], ARGV[3], 'EX', DEDUPE_TTL)
end
return mine and 1 or 0
"""


def _fill(script: str, constants: dict[str, str]) -> str:
    for name, value in constants.items():
        script = script.replace(name, value)
    return script


class RedisStore:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        prefix: str = "lt:",
        session_ttl: int = 7 * 24 * 3600,
        dedupe_ttl: int = 300,
        lock_ms: int = 10_000,
        lock_wait: float = 4.0,
        breaker: Breaker | None = None,
        clock: Clock = time.time,
        pipelined: bool | None = None,
    ) -> None:
        """``pipelined``: the scripts on the store's own connection (True), on redis-py's pipeline
        (False), or the former wherever it applies (None: not over TLS)."""
        self.redis = redis
        self.prefix = prefix
        self.session_ttl = session_ttl
        self.dedupe_ttl = dedupe_ttl
        self.lock_ms = lock_ms
        self.lock_wait = lock_wait
        self.breaker = breaker or Breaker("redis")
        self._clock = clock
        constants = {
            "DEDUPE_TTL": str(int(dedupe_ttl)),
            "LOCK_MS": str(int(lock_ms)),
            "SESSION_TTL": str(int(session_ttl)),
            # Lua's decimal escape: the marker starts with a NUL byte, which no reply can.
            "PENDING": '"\\0' + PENDING[1:] + '"',
        }
        self._begin = redis.register_script(_fill(_BEGIN, constants))
        self._finish = redis.register_script(_fill(_FINISH, constants))
        # The two scripts run on one pipelined connection of their own (bot.session.resp, about
        # 200 us a message less than redis-py's path); TLS and custom connection classes call them
        # through redis-py itself.
        if pipelined is None:
            pipelined = RespPipe.supports(redis)
        self._pipe = RespPipe(redis) if pipelined else None

    def _script(self, script: AsyncScript, keys: list[str], args: list[str]) -> Awaitable[Any]:
        if self._pipe is not None:
            return self._pipe.call(script, keys, args)
        return script(keys, args)

    def _keys(self, dedupe: str | None, key: SessionKey) -> list[str]:
        prefix, name = self.prefix, f"{key.channel}:{key.bot}:{key.user}"
        return [f"{prefix}d:{dedupe}" if dedupe else "", f"{prefix}l:{name}", f"{prefix}s:{name}"]

    async def _run(self, make: Callable[[], Awaitable[Any]]) -> Any:
        """Run the command ``make`` starts, unless the breaker is open (then fail fast, send nothing)."""
        self.breaker.check()
        try:
            result = await make()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise self.breaker.failed(exc) from exc
        except RedisError as exc:
            # e.g. "LOADING" or "READONLY" while a replica is promoted: unavailable, not a bug.
            raise self.breaker.failed(exc) from exc
        self.breaker.succeeded()
        return result

    async def begin(self, dedupe: str | None, key: SessionKey, owner: str) -> Begin:
        keys = self._keys(dedupe, key)
        args = [owner]
        deadline = time.monotonic() + self.lock_wait
        delay = 0.005
        while True:
            reply = await self._run(lambda: self._script(self._begin, keys, args))
            if reply[0] == 0:
                record = reply[1]
                return Begin(duplicate=True, result=record.decode() if record is not None else None)
            if reply[0] == 1:
                return Begin(duplicate=False, session=Session.loads(reply[1], self._clock()), owner=owner)
            # The user's previous message is still being handled. The delivery is claimed now,
            # so wait for the lock only.
            keys[0] = ""
            if time.monotonic() + delay > deadline:
                if dedupe:
                    await self.forget(dedupe)
                raise LockTimeout(f"conversation {key} stayed locked")
            await asyncio.sleep(delay)
            # Short polls: the same user's next message waits for the previous one, usually a few ms.
            delay = min(delay * 2, 0.025)

    async def finish(self, dedupe: str | None, key: SessionKey, owner: str, session: Session, result: str) -> bool:
        # "" leaves the stored session as it is, "-" deletes it.
        blob = (session.dumps() if not session.empty else "-") if session.changed else ""
        keys, args = self._keys(dedupe, key), [owner, blob, result]
        mine = await self._run(lambda: self._script(self._finish, keys, args))
        return bool(mine)

    async def track_flow(self, key: SessionKey, expires_at: float | None) -> None:
        """Note (or, with None, forget) when this conversation's flow times out, for the clean-up job."""
        due = f"{self.prefix}f:due"
        member = str(key)
        if expires_at is None:
            await self._run(lambda: self.redis.zrem(due, member))
            return

        async def add() -> None:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zadd(due, {member: expires_at})
                pipe.expire(due, self.session_ttl)
                await pipe.execute()

        await self._run(add)

    async def due_flows(self, now: float, limit: int = 500) -> list[SessionKey]:
        raw = await self._run(lambda: self.redis.zrangebyscore(f"{self.prefix}f:due", "-inf", now, 0, limit))
        return [SessionKey.parse(m.decode()) for m in raw]

    async def result(self, dedupe: str) -> str | None:
        raw = await self._run(lambda: self.redis.get(f"{self.prefix}d:{dedupe}"))
        return raw.decode() if raw is not None else None

    async def forget(self, dedupe: str) -> None:
        await self._run(lambda: self.redis.delete(f"{self.prefix}d:{dedupe}"))

    async def remember_once(self, name: str, value: str, ttl: int) -> str | None:
        """SET NX under ``P name``; returns the value already stored, or None if this call stored it."""
        full = f"{self.prefix}{name}"
        stored = await self._run(lambda: self.redis.set(full, value, nx=True, ex=ttl, get=True))
        return stored.decode() if stored is not None else None

    async def ping(self) -> None:
        # A health check must probe even while the breaker is open, or it would never see recovery.
        try:
            await self.redis.ping()
        except (RedisError, OSError) as exc:
            raise Unavailable(f"redis: {type(exc).__name__}") from exc
        self.breaker.succeeded()

    async def close(self) -> None:
        if self._pipe is not None:
            await self._pipe.close()
        await self.redis.aclose()
