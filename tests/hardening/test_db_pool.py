"""The pool's life check at checkout (instead of SQLAlchemy's pre-ping): dead connections never reach a user."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

import bot.db
from bot.db import Database
from bot.errors import Unavailable
from tests.conftest import PG_URL


async def _backend_pids(db: Database) -> set[int]:
    """The server-side process ids of every connection the pool holds (checked out one by one)."""
    pids: set[int] = set()
    async with db.engine.connect() as a, db.engine.connect() as b:
        for conn in (a, b):
            pids.add(int(await conn.scalar(text("SELECT pg_backend_pid()")) or 0))
    return pids


async def _terminate(pids: set[int]) -> None:
    other = Database.from_url(PG_URL)
    try:
        async with other.engine.connect() as conn:
            for pid in pids:
                await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    finally:
        await other.close()


async def test_connections_the_server_closed_are_replaced_not_handed_out() -> None:
    """A restart (here: the server ends every backend of the pool) costs no request an error."""
    db = Database.from_url(PG_URL)
    try:
        before = await _backend_pids(db)
        assert len(before) == 2
        await _terminate(before)
        await asyncio.sleep(0.2)  # the closing sockets reach the event loop
        async with db.session() as s:
            assert await s.scalar(text("SELECT 1")) == 1
        rows = await db.fetch("SELECT pg_backend_pid() AS pid")
        assert rows[0]["pid"] not in before
        after = await _backend_pids(db)
        assert not after & before, "a terminated connection came out of the pool again"
    finally:
        await db.close()


async def test_a_connection_idle_past_the_limit_is_pinged_first(monkeypatch: pytest.MonkeyPatch) -> None:
    pings: list[object] = []
    real_ping = AsyncAdapt_asyncpg_connection.ping

    def counting_ping(self: AsyncAdapt_asyncpg_connection) -> None:
        pings.append(self)
        real_ping(self)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counting_ping)
    db = Database.from_url(PG_URL)
    try:
        await db.fetch("SELECT 1")
        await db.fetch("SELECT 1")
        assert pings == [], "a connection just given back is not pinged"
        monkeypatch.setattr(bot.db, "PING_AFTER_IDLE", 0.05)
        await asyncio.sleep(0.1)
        assert (await db.fetch("SELECT 1 AS one"))[0]["one"] == 1
        assert len(pings) == 1, "the connection fetch kept, idle past the limit, is pinged before use"
    finally:
        await db.close()


async def test_fetch_answers_unavailable_when_the_server_is_gone() -> None:
    db = Database.from_url("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    try:
        with pytest.raises(Unavailable):
            await db.fetch("SELECT 1")
        with pytest.raises(Unavailable):  # the breaker is open now: refused without trying
            await db.fetch("SELECT 1")
    finally:
        await db.close()


async def test_fetch_keeps_its_connection_but_a_session_never_waits_behind_it() -> None:
    """``fetch`` keeps a connection for the next statement only while the pool has others free
    (``bot.db._MARGIN``): with a pool of four, four sessions at once still get all four."""
    db = Database.from_url(PG_URL, pool=4)
    try:
        first = (await db.fetch("SELECT pg_backend_pid() AS pid"))[0]["pid"]
        assert (await db.fetch("SELECT pg_backend_pid() AS pid"))[0]["pid"] == first, "the kept connection"
        assert len(db._leases) == 1
        assert not db._leases[0][1].is_in_transaction(), "kept outside any transaction, as the pool would"
        await db.execute("CREATE TEMP TABLE kept_probe (x int)")  # on the kept connection, committed
        assert (await db.fetch("SELECT count(*) AS n FROM kept_probe"))[0]["n"] == 0
        holding, done = asyncio.Semaphore(0), asyncio.Event()

        async def hold(n: int) -> int:
            async with db.session() as s:
                got = int(await s.scalar(text(f"SELECT {n}")) or 0)  # the session holds its connection now
                holding.release()
                await asyncio.wait_for(done.wait(), 3)  # and keeps it until the last has run
                return got

        async def last() -> int:
            for _ in range(3):
                await holding.acquire()
            async with db.session() as s:  # every connection is held now but for the kept one
                got = int(await s.scalar(text("SELECT 4")) or 0)
            done.set()
            return got

        assert list(await asyncio.wait_for(asyncio.gather(hold(1), hold(2), hold(3), last()), 1.5)) == [1, 2, 3, 4]
        assert db._leases == []
    finally:
        await db.close()


async def test_a_kept_connection_the_server_closed_is_not_used() -> None:
    db = Database.from_url(PG_URL)
    try:
        kept = (await db.fetch("SELECT pg_backend_pid() AS pid"))[0]["pid"]
        await _terminate({kept})
        await asyncio.sleep(0.2)  # the closing socket reaches the event loop
        rows = await db.fetch("SELECT pg_backend_pid() AS pid")
        assert rows[0]["pid"] != kept
        await db.execute("SELECT 1")
    finally:
        await db.close()


async def test_sessions_starting_together_get_the_kept_connections_back() -> None:
    db = Database.from_url(PG_URL, pool=6)
    try:
        await asyncio.gather(*(db.fetch("SELECT pg_sleep(0.05)") for _ in range(3)))
        assert len(db._leases) == 3, "three kept: three of six still free"
        connected = 0
        all_in = asyncio.Event()

        async def hold(n: int) -> int:
            nonlocal connected
            async with db.session() as s:
                await asyncio.sleep(0)  # all four have begun before any runs a statement
                got = int(await s.scalar(text(f"SELECT {n}")) or 0)
                connected += 1
                if connected == 4:
                    all_in.set()
                await asyncio.wait_for(all_in.wait(), 1.5)  # every session holds its connection at once
                return got

        assert list(await asyncio.gather(*(hold(n) for n in range(4)))) == [0, 1, 2, 3]
    finally:
        await db.close()
