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
        monkeypatch.setattr(bot.db, "PING_AFTER_IDLE", 0.0)
        await asyncio.sleep(0.01)
        assert (await db.fetch("SELECT 1 AS one"))[0]["one"] == 1
        assert len(pings) == 1
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
