"""Statements run straight on asyncpg (``bot.db.driver``) keep the session's transaction semantics."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import Database, driver
from bot.db.courses import sessions
from tests.conftest import PG_URL


class _RolledBack(Exception):
    pass


async def _count(db: Database) -> int:
    async with db.session() as s:
        return int(await s.scalar(text("SELECT count(*) FROM driver_probe")) or 0)


async def test_in_a_transaction_the_driver_statement_rolls_back_with_it() -> None:
    db = Database.from_url(PG_URL)
    try:
        async with db.session() as s:
            await s.execute(text("CREATE TABLE IF NOT EXISTS driver_probe (n int)"))
            await s.execute(text("TRUNCATE driver_probe"))
        with pytest.raises(_RolledBack):
            async with db.session() as s:
                conn = await driver(s)
                await conn.execute("INSERT INTO driver_probe VALUES ($1)", 1)
                raise _RolledBack
        assert await _count(db) == 0, "the driver's insert escaped the transaction that rolled back"

        async with db.session() as s:
            await (await driver(s)).execute("INSERT INTO driver_probe VALUES ($1)", 2)
        assert await _count(db) == 1

        async with sessions.autocommit(db) as a:  # no transaction: each statement commits by itself
            await (await driver(a)).execute("INSERT INTO driver_probe VALUES ($1)", 3)
            assert await _count(db) == 2
    finally:
        async with db.session() as s:
            await s.execute(text("DROP TABLE IF EXISTS driver_probe"))
        await db.close()


async def test_the_kept_connection_follows_the_sessions_transaction() -> None:
    """Asked twice in one transaction, ``driver`` gives the same connection without asking
    SQLAlchemy again; after a commit the next statement is in the new transaction, not outside it."""
    db = Database.from_url(PG_URL)
    try:
        async with db.session() as s:
            await s.execute(text("CREATE TABLE IF NOT EXISTS driver_probe (n int)"))
            await s.execute(text("TRUNCATE driver_probe"))
        async with AsyncSession(db.engine) as s:
            first = await driver(s)
            assert await driver(s) is first
            await first.execute("INSERT INTO driver_probe VALUES ($1)", 1)
            await s.commit()  # the insert is kept; a new transaction begins with the next statement
            await (await driver(s)).execute("INSERT INTO driver_probe VALUES ($1)", 2)
            await s.rollback()  # the second insert goes with its transaction
        assert await _count(db) == 1, "after the commit the driver's statement ran outside the new transaction"

        async with sessions.autocommit(db) as a:
            one = await driver(a)
            assert await driver(a) is one
            await one.execute("INSERT INTO driver_probe VALUES ($1)", 3)
            assert await _count(db) == 2
    finally:
        async with db.session() as s:
            await s.execute(text("DROP TABLE IF EXISTS driver_probe"))
        await db.close()


async def test_warming_opens_the_pool_once_and_a_dead_server_is_no_error() -> None:
    db = Database.from_url(PG_URL, pool=6)
    try:
        assert await db.warm(4) == 4
        pool = db.engine.sync_engine.pool
        assert pool.checkedin() == 4  # type: ignore[attr-defined]
        assert await db.warm(4) == 0, "already open: nothing more"
        assert await db.warm(10) == 2, "never more than the pool holds"
    finally:
        await db.close()
    dead = Database.from_url("postgresql+asyncpg://postgres@127.0.0.1:1/none", pool=3)
    try:
        assert await dead.warm(3) == 0
    finally:
        await dead.close()
