"""Sessions for seat changes: statements that commit by themselves, a per-process gate, a shared log flush.

``autocommit`` gives ``signups.sign_up`` a session without BEGIN, so the class lock taken inside
its one statement lives only while the server runs it; at most ``CONCURRENT_SIGNUPS`` of them are
open at once in a process. Seat changes commit asynchronously (``signups.lock_class``);
``flushed`` returns once they are on disk, one flush shared by the callers of a moment.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.db import OUTAGE, Database, is_outage

#: Signups of one process using the database at once. A burst waits here, in order and without a
#: time-out, rather than in the connection pool, whose 2-second wait would answer it "busy"; the
#: pool keeps connections for everything else meanwhile. Below the pool's 20 (size 10, overflow 10).
CONCURRENT_SIGNUPS = 12


@asynccontextmanager
async def autocommit(db: Database) -> AsyncIterator[AsyncSession]:
    """A session whose statements each commit by themselves (no BEGIN), with the database's breaker.

    For ``sign_up``: a lock taken inside one statement is released when the server has run it.
    At most ``CONCURRENT_SIGNUPS`` of these are open at once in a process.
    """
    gate = _GATES.get(db)
    if gate is None:
        gate = _GATES[db] = asyncio.Semaphore(CONCURRENT_SIGNUPS)
    async with gate, _autocommit(db) as s:
        yield s


@asynccontextmanager
async def _autocommit(db: Database) -> AsyncIterator[AsyncSession]:
    db.breaker.check()
    engine = _AUTOCOMMIT.get(db)
    if engine is None:
        engine = _AUTOCOMMIT[db] = db.engine.execution_options(isolation_level="AUTOCOMMIT")
    try:
        async with AsyncSession(engine) as s:
            yield s
    except OUTAGE as exc:
        if not is_outage(exc):
            raise
        raise db.breaker.failed(exc) from exc
    db.breaker.succeeded()


_AUTOCOMMIT: weakref.WeakKeyDictionary[Database, AsyncEngine] = weakref.WeakKeyDictionary()
_GATES: weakref.WeakKeyDictionary[Database, asyncio.Semaphore] = weakref.WeakKeyDictionary()


async def flushed(db: Database) -> None:
    """Return once every commit this process made before the call is on disk: ``durable``, shared.

    Callers that arrive while no flush has started yet join the next one, so a burst of signups
    costs a flush per turn of the event loop, on a connection of its own, instead of one each.
    A flush that has started is never joined: it might not cover a commit made after it began.
    """
    waiting = _NEXT_FLUSH.get(db)
    if waiting is None:
        waiting = _NEXT_FLUSH[db] = asyncio.get_running_loop().create_future()
        _FLUSHES.add(asyncio.create_task(_flush(db, waiting)))
    await asyncio.shield(waiting)


async def _flush(db: Database, done: asyncio.Future[None]) -> None:
    await asyncio.sleep(0)  # the rest of this turn's callers join
    del _NEXT_FLUSH[db]  # from here on, callers wait for the next flush
    try:
        async with _autocommit(db) as s:
            await durable(s)
    except BaseException as exc:  # noqa: BLE001 - handed to every joiner (Unavailable: "busy")
        done.set_exception(exc)
    else:
        done.set_result(None)
    finally:
        _FLUSHES.discard(asyncio.current_task())


_NEXT_FLUSH: weakref.WeakKeyDictionary[Database, asyncio.Future[None]] = weakref.WeakKeyDictionary()
#: The running flush tasks, referenced so that they are not collected mid-flight.
_FLUSHES: set[asyncio.Task[None]] = set()


async def durable(s: AsyncSession) -> None:
    """Wait until every commit before this one is on disk (write-ahead log order).

    A transaction holding an xid commits with a WAL record and, at the default synchronous_commit,
    flushes the log up to it: the asynchronous commits before it are flushed with it.
    """
    await s.execute(text("SELECT pg_current_xact_id()"))
