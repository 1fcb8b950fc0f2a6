"""The session store contract: one test class run over RedisStore (real Redis) and MemoryStore."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.errors import LockTimeout
from bot.session.base import PENDING, Session, SessionKey, State, StatesGroup, Store
from bot.session.memory import MemoryStore
from bot.session.redis import RedisStore
from tests.conftest import REDIS_URL

#: Long enough for a test to hold the lock on purpose; the default (4 s) would slow the suite.
LOCK_WAIT = 0.3
FLOW_TIMEOUT = 60


class ContractFlow(StatesGroup):
    """A flow of this test module only (the state registry is process-wide, hence the odd name)."""

    waiting = State(timeout=FLOW_TIMEOUT)
    open_ended = State()


class FixedClock:
    """Wall-clock time the store believes in; tests move it by hand."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Backend:
    """A store under test, plus raw access to what it keeps (to plant or inspect records)."""

    name: str
    store: Store
    clock: FixedClock
    redis: aioredis.Redis | None
    prefix: str

    def session_name(self, key: SessionKey) -> str:
        return f"{self.prefix}s:{key}"

    async def raw_session(self, key: SessionKey) -> str | None:
        if self.redis is not None:
            raw = await self.redis.get(self.session_name(key))
            return raw.decode() if isinstance(raw, bytes) else raw
        assert isinstance(self.store, MemoryStore)
        return self.store._get(f"s:{key}")

    async def plant_session(self, key: SessionKey, blob: str) -> None:
        if self.redis is not None:
            await self.redis.set(self.session_name(key), blob, ex=3600)
            return
        assert isinstance(self.store, MemoryStore)
        self.store._set(f"s:{key}", blob, 3600)


MakeBackend = Callable[..., Backend]


@pytest.fixture(params=["redis", "redis-py pipeline", "memory"])
async def make_backend(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[MakeBackend]:
    """``make_backend(lock_wait=..., clock=...)``: a fresh store of the parametrised kind.

    "redis" runs the scripts on the store's own pipelined connection; "redis-py pipeline" on
    redis-py's, as over TLS (rediss://) where the former does not apply.
    """
    client = aioredis.Redis.from_url(REDIS_URL) if request.param != "memory" else None
    stores: list[Store] = []

    def make(lock_wait: float = LOCK_WAIT, clock: FixedClock | None = None, **options: Any) -> Backend:
        clock = clock or FixedClock(time.time())
        store: Store
        if client is not None:
            pipelined = request.param == "redis"
            store = RedisStore(
                client, prefix=redis_prefix, lock_wait=lock_wait, clock=clock, pipelined=pipelined, **options
            )
            stores.append(store)
            return Backend("redis", store, clock, client, redis_prefix)
        store = MemoryStore(lock_wait=lock_wait, clock=clock, **options)
        return Backend("memory", store, clock, None, "")

    yield make
    for store in stores:
        await store.close()  # the client too; the redis_prefix fixture deletes the keys


@pytest.fixture
def backend(make_backend: MakeBackend) -> Backend:
    return make_backend()


@pytest.fixture
def key() -> SessionKey:
    return SessionKey("wechat", "gh_longtuan", f"o-{uuid.uuid4().hex[:12]}")


def _session(begin_session: Session | None) -> Session:
    assert begin_session is not None, "a begin that is not a duplicate carries the session"
    return begin_session


class TestStoreContract:
    async def test_begin_claims_the_delivery_and_a_retry_sees_pending_then_the_reply(
        self, backend: Backend, key: SessionKey
    ) -> None:
        store = backend.store
        first = await store.begin("m:1", key, "first")
        assert not first.duplicate and first.owner == "first"
        assert await store.result("m:1") == PENDING

        retry = await store.begin("m:1", key, "retry")
        assert retry.duplicate and retry.result == PENDING and retry.session is None

        await store.finish("m:1", key, "first", _session(first.session), "<xml>reply</xml>")
        again = await store.begin("m:1", key, "late-retry")
        assert again.duplicate and again.result == "<xml>reply</xml>"
        assert await store.result("m:1") == "<xml>reply</xml>"

    async def test_no_dedupe_key_claims_nothing(self, backend: Backend, key: SessionKey) -> None:
        store = backend.store
        first = await store.begin(None, key, "a")
        await store.finish(None, key, "a", _session(first.session), "")
        second = await store.begin(None, key, "b")
        assert not second.duplicate
        await store.finish(None, key, "b", _session(second.session), "")

    async def test_forget_lets_a_retry_be_handled_afresh(self, backend: Backend, key: SessionKey) -> None:
        store = backend.store
        first = await store.begin("m:2", key, "a")
        await store.finish(None, key, "a", _session(first.session), "")  # releases the lock only
        await store.forget("m:2")
        assert await store.result("m:2") is None
        retry = await store.begin("m:2", key, "b")
        assert not retry.duplicate
        await store.finish("m:2", key, "b", _session(retry.session), "ok")

    async def test_lock_is_taken_before_the_state_is_read(self, backend: Backend, key: SessionKey) -> None:
        store, clock = backend.store, backend.clock
        first = await store.begin("m:a", key, "first")
        session = _session(first.session)
        session.set_state(ContractFlow.waiting, now=clock(), step=1)

        waiter = asyncio.create_task(store.begin("m:b", key, "second"))
        await asyncio.sleep(0.1)
        assert not waiter.done(), "a second message of the same user must wait for the lock"
        assert await store.result("m:b") == PENDING, "the waiting delivery is claimed already"

        await store.finish("m:a", key, "first", session, "r1")
        second = await asyncio.wait_for(waiter, 2)
        assert not second.duplicate
        seen = _session(second.session)
        assert seen.state == ContractFlow.waiting.name and seen.data == {"step": 1}
        await store.finish("m:b", key, "second", seen, "r2")

    async def test_concurrent_updates_of_one_user_are_never_lost(self, make_backend: MakeBackend) -> None:
        backend = make_backend(lock_wait=5.0)
        store, key = backend.store, SessionKey("wechat", "gh", f"o-{uuid.uuid4().hex[:8]}")

        async def increment(n: int) -> None:
            begin = await store.begin(f"m:inc:{n}", key, f"owner-{n}")
            session = _session(begin.session)
            count = int(session.data.get("n", 0))
            await asyncio.sleep(0.002)  # a handler awaiting something: the window a lost update needs
            session.set_state(ContractFlow.open_ended, n=count + 1)
            await store.finish(f"m:inc:{n}", key, f"owner-{n}", session, "")

        await asyncio.gather(*(increment(n) for n in range(12)))
        last = await store.begin(None, key, "reader")
        assert _session(last.session).data == {"n": 12}
        await store.finish(None, key, "reader", _session(last.session), "")

    async def test_the_script_outlives_the_flow(self, backend: Backend, key: SessionKey) -> None:
        store = backend.store
        first = _session((await store.begin(None, key, "a")).session)
        first.set_state(ContractFlow.open_ended, step=1)
        first.set_script("hant")
        await store.finish(None, key, "a", first, "")

        second = _session((await store.begin(None, key, "b")).session)
        assert second.script == "hant" and second.state == ContractFlow.open_ended.name
        second.clear()  # the flow ends; the person still writes traditional
        assert second.changed and not second.empty
        await store.finish(None, key, "b", second, "")

        third = _session((await store.begin(None, key, "c")).session)
        assert third.script == "hant" and third.state is None and third.data == {}
        third.set_script("")
        await store.finish(None, key, "c", third, "")
        assert await backend.raw_session(key) is None, "nothing left to remember: the record is gone"

    async def test_lock_timeout_forgets_the_waiters_claim(self, backend: Backend, key: SessionKey) -> None:
        store = backend.store
        holder = await store.begin("m:held", key, "holder")

        started = time.monotonic()
        with pytest.raises(LockTimeout):
            await store.begin("m:waiting", key, "waiter")
        waited = time.monotonic() - started
        assert LOCK_WAIT - 0.05 <= waited < LOCK_WAIT + 0.5, waited
        assert await store.result("m:waiting") is None, "the platform's retry must be handled afresh"

        await store.finish("m:held", key, "holder", _session(holder.session), "")
        retry = await store.begin("m:waiting", key, "waiter-retry")
        assert not retry.duplicate
        await store.finish("m:waiting", key, "waiter-retry", _session(retry.session), "")

    async def test_finish_by_someone_else_neither_releases_nor_writes(self, backend: Backend, key: SessionKey) -> None:
        store = backend.store
        holder = await store.begin("m:h", key, "holder")
        intruder = Session()
        intruder.set_state(ContractFlow.open_ended, who="intruder")
        assert not await store.finish("m:i", key, "intruder", intruder, "cached"), "reported: the lock was not ours"
        assert await store.result("m:i") == "cached", "the reply is cached even when the lock is not ours"
        with pytest.raises(LockTimeout):
            await store.begin(None, key, "third")
        assert await store.finish("m:h", key, "holder", _session(holder.session), "")
        after = await store.begin(None, key, "reader")
        assert _session(after.session).state is None
        await store.finish(None, key, "reader", _session(after.session), "")

    async def test_flows_with_a_clean_up_are_found_when_due(self, backend: Backend, key: SessionKey) -> None:
        store = backend.store
        other = SessionKey(key.channel, key.bot, key.user + ":2")  # a user id may hold a colon
        await store.track_flow(key, 1000.0)
        await store.track_flow(other, 2000.0)
        assert await store.due_flows(999.0) == []
        assert await store.due_flows(1500.0) == [key]
        assert await store.due_flows(2500.0) == [key, other]
        await store.track_flow(key, 3000.0)  # entered again: due later
        await store.track_flow(other, None)
        assert await store.due_flows(2500.0) == []
        assert await store.due_flows(3000.0) == [key]

    async def test_session_is_saved_only_when_changed(self, backend: Backend, key: SessionKey) -> None:
        store = backend.store
        begin = await store.begin(None, key, "a")
        session = _session(begin.session)
        session.set_state(ContractFlow.open_ended, street="坂田")
        await store.finish(None, key, "a", session, "")
        saved = await backend.raw_session(key)
        assert saved is not None and "坂田" in saved

        begin = await store.begin(None, key, "b")
        session = _session(begin.session)
        assert session.data == {"street": "坂田"} and not session.changed
        session.data["street"] = "布吉"  # edited without marking the session changed: not saved
        await store.finish(None, key, "b", session, "")
        assert await backend.raw_session(key) == saved

        begin = await store.begin(None, key, "c")
        assert _session(begin.session).data == {"street": "坂田"}
        await store.finish(None, key, "c", _session(begin.session), "")

    async def test_nothing_is_written_for_an_empty_unchanged_session(self, backend: Backend, key: SessionKey) -> None:
        store = backend.store
        begin = await store.begin(None, key, "a")
        await store.finish(None, key, "a", _session(begin.session), "")
        assert await backend.raw_session(key) is None

    async def test_clear_deletes_the_session(self, backend: Backend, key: SessionKey) -> None:
        store = backend.store
        begin = await store.begin(None, key, "a")
        _session(begin.session).set_state(ContractFlow.open_ended, x=1)
        await store.finish(None, key, "a", _session(begin.session), "")
        assert await backend.raw_session(key) is not None

        begin = await store.begin(None, key, "b")
        session = _session(begin.session)
        session.clear()
        assert session.changed
        await store.finish(None, key, "b", session, "")
        assert await backend.raw_session(key) is None

        begin = await store.begin(None, key, "c")
        assert _session(begin.session).state is None and _session(begin.session).data == {}
        await store.finish(None, key, "c", _session(begin.session), "")

    async def test_flow_state_expires_with_the_clock(self, make_backend: MakeBackend, key: SessionKey) -> None:
        clock = FixedClock()
        store = make_backend(clock=clock).store
        begin = await store.begin(None, key, "a")
        _session(begin.session).set_state(ContractFlow.waiting, now=clock(), step=1)
        await store.finish(None, key, "a", _session(begin.session), "")

        clock.now += FLOW_TIMEOUT - 1  # still inside the timeout
        begin = await store.begin(None, key, "b")
        session = _session(begin.session)
        assert session.in_state(ContractFlow.waiting) and session.expired is None
        await store.finish(None, key, "b", session, "")

        clock.now += 2  # now past it
        begin = await store.begin(None, key, "c")
        session = _session(begin.session)
        assert session.expired is ContractFlow.waiting
        assert session.state is None and session.data == {} and session.changed
        await store.finish(None, key, "c", session, "")

        begin = await store.begin(None, key, "d")
        session = _session(begin.session)
        assert session.expired is None and session.state is None, "the timeout is told once"
        await store.finish(None, key, "d", session, "")

    async def test_a_state_without_timeout_never_expires(self, make_backend: MakeBackend, key: SessionKey) -> None:
        clock = FixedClock()
        store = make_backend(clock=clock).store
        begin = await store.begin(None, key, "a")
        _session(begin.session).set_state(ContractFlow.open_ended, now=clock())
        await store.finish(None, key, "a", _session(begin.session), "")
        clock.now += 24 * 3600
        begin = await store.begin(None, key, "b")
        assert _session(begin.session).in_state(ContractFlow.open_ended)
        await store.finish(None, key, "b", _session(begin.session), "")

    async def test_remember_once(self, make_backend: MakeBackend) -> None:
        clock = FixedClock()
        backend = make_backend(clock=clock)
        store = backend.store
        name = f"r:{uuid.uuid4().hex[:8]}"
        assert await store.remember_once(name, "first", 30) is None
        assert await store.remember_once(name, "second", 30) == "first"
        assert await store.remember_once(name, "third", 30) == "first", "the first value is never replaced"
        assert await store.remember_once(f"{name}:other", "x", 30) is None
        if backend.redis is not None:
            ttl = await backend.redis.ttl(f"{backend.prefix}{name}")
            assert 0 < ttl <= 30
        else:
            clock.now += 31
            assert await store.remember_once(name, "after", 30) is None

    @pytest.mark.parametrize(
        "blob",
        [
            "not json {",
            "[1, 2]",
            '"a string"',
            "null",
            '{"s": "ContractFlow:waiting", "x": "soon"}',
            '{"s": 5}',
            '{"s": "ContractFlow:open_ended", "d": "not a dict"}',
        ],
    )
    async def test_a_corrupt_session_is_dropped_not_fatal(self, backend: Backend, key: SessionKey, blob: str) -> None:
        store = backend.store
        await backend.plant_session(key, blob)
        begin = await store.begin("m:c", key, "a")
        session = _session(begin.session)
        assert session.state is None and session.data == {} and session.expired is None
        session.set_state(ContractFlow.open_ended, fresh=True)
        await store.finish("m:c", key, "a", session, "reply")

        begin = await store.begin(None, key, "b")
        assert _session(begin.session).data == {"fresh": True}
        _session(begin.session).clear()
        await store.finish(None, key, "b", _session(begin.session), "")

    async def test_a_corrupt_session_left_alone_is_deleted(self, backend: Backend, key: SessionKey) -> None:
        store = backend.store
        await backend.plant_session(key, "\x00garbage")
        begin = await store.begin(None, key, "a")
        await store.finish(None, key, "a", _session(begin.session), "")
        assert await backend.raw_session(key) is None


async def _all_have_ttl(client: aioredis.Redis, prefix: str) -> list[str]:
    """Every key under ``prefix``; asserts each one expires (PTTL -1 means it never would)."""
    names = [k.decode() async for k in client.scan_iter(match=f"{prefix}*", count=500)]
    for name in names:
        pttl = await client.pttl(name)
        assert pttl > 0, f"{name} has no TTL (PTTL {pttl})"
    return names


async def test_every_redis_key_has_a_ttl(redis_prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        store = RedisStore(client, prefix=redis_prefix, lock_wait=0.1, session_ttl=600, dedupe_ttl=60, lock_ms=5000)
        key = SessionKey("wechat", "gh", f"o-{uuid.uuid4().hex[:8]}")

        begin = await store.begin("m:1", key, "a")
        assert sorted(await _all_have_ttl(client, redis_prefix)) == [f"{redis_prefix}d:m:1", f"{redis_prefix}l:{key}"]
        with pytest.raises(LockTimeout):
            await store.begin("m:2", key, "b")
        _session(begin.session).set_state(ContractFlow.waiting, x=1)
        await store.finish("m:1", key, "a", _session(begin.session), "reply")
        names = await _all_have_ttl(client, redis_prefix)
        assert sorted(names) == [f"{redis_prefix}d:m:1", f"{redis_prefix}s:{key}"]
        assert 590 < await client.ttl(f"{redis_prefix}s:{key}") <= 600

        # An unchanged session is not rewritten, but its TTL is renewed (the conversation is alive).
        await client.expire(f"{redis_prefix}s:{key}", 100)
        begin = await store.begin("m:3", key, "c")
        await store.finish("m:3", key, "c", _session(begin.session), "")
        assert await client.ttl(f"{redis_prefix}s:{key}") > 590

        await store.remember_once("r:123:abc", "digest", 300)
        await store.track_flow(key, 1e12)
        await store.finish(None, SessionKey("wechat", "gh", "nobody"), "x", Session(), "")
        names = await _all_have_ttl(client, redis_prefix)
        assert f"{redis_prefix}r:123:abc" in names and f"{redis_prefix}d:m:3" in names
        assert f"{redis_prefix}f:due" in names
    finally:
        await store.close()
