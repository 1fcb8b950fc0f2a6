"""Sessions for seat changes: statements that commit by themselves, a per-process gate, a shared log flush.

``autocommit`` gives ``signups.sign_up`` a session without BEGIN, so the class lock taken inside
its one statement lives only while the server runs it; ``seated`` runs signups on at most
``CONCURRENT_SIGNUPS`` such sessions, kept open while a burst lasts. Seat changes commit
asynchronously (``signups.lock_class``); ``flushed`` returns once they are on disk, one flush
shared by the callers of a moment.
"""

from __future__ import annotations

import asyncio
import collections
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.db import OUTAGE, Database, is_outage

T = TypeVar("T")

#: Signup sessions of one process open at once (``seated``). A burst waits here, in order and without
#: a time-out, rather than in the connection pool, whose 2-second wait would answer it "busy"; the
#: pool keeps connections for everything else meanwhile. Below the pool's 20 (LONGTUAN_DB_POOL).
CONCURRENT_SIGNUPS = 12


@asynccontextmanager
async def autocommit(db: Database) -> AsyncIterator[AsyncSession]:
    """A session whose statements each commit by themselves (no BEGIN), with the database's breaker.

    For ``sign_up``: a lock taken inside one statement is released when the server has run it.
    The chat's signups go through ``seated``, which keeps a few of these open during a burst.
    """
    async with _autocommit(db) as s:
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


async def seated(db: Database, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` on one of the process's signup sessions (autocommit), in the order asked.

    At most ``CONCURRENT_SIGNUPS`` sessions are open, each serving the queued work one after the
    other while there is any, then giving its connection back. A burst pays one pool checkout per
    session instead of one per signup (a checkout and its life check, ``bot.db._check_alive``,
    cost about as much CPU as the signup's own two statements).
    """
    desk = _DESKS.get(db)
    if desk is None:
        desk = _DESKS[db] = _Desk(db)
    return await desk.run(work)


class _Spoilt(Exception):
    """Work failed on a session: the session is given up and the next work gets a fresh one."""


class _Desk:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.queue: collections.deque[tuple[Callable[[AsyncSession], Awaitable[Any]], asyncio.Future[Any]]] = (
            collections.deque()
        )
        self.open = 0
        self.tasks: set[asyncio.Task[None]] = set()

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self.queue.append((work, done))
        if self.open < CONCURRENT_SIGNUPS:
            self.open += 1
            task = asyncio.create_task(self._serve())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return await done

    async def _serve(self) -> None:
        try:
            while self.queue:
                try:
                    async with _autocommit(self.db) as s:
                        while self.queue:
                            work, done = self.queue.popleft()
                            if done.done():
                                continue  # its caller has gone (cancelled)
                            try:
                                result = await work(s)
                            except Exception as exc:
                                if not done.done():
                                    done.set_exception(self._named(exc))
                                raise _Spoilt from exc
                            except BaseException:  # this task cancelled (shutting down): so is the caller's wait
                                done.cancel()
                                raise
                            if not done.done():
                                done.set_result(result)
                except _Spoilt:
                    continue
                except Exception as exc:  # noqa: BLE001 - no session (the database is down): the next in line hears it
                    if self.queue:
                        _, done = self.queue.popleft()
                        if not done.done():
                            done.set_exception(self._named(exc))
        finally:
            self.open -= 1

    def _named(self, exc: Exception) -> Exception:
        """A lost connection is ``Unavailable`` (the user hears "busy"), as ``Database.session`` makes it."""
        if isinstance(exc, OUTAGE) and is_outage(exc):
            return self.db.breaker.failed(exc)
        return exc


_DESKS: weakref.WeakKeyDictionary[Database, _Desk] = weakref.WeakKeyDictionary()


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
        # Straight on a pooled connection, outside any transaction: the statement commits by
        # itself, synchronously, and so flushes the log over every commit before it (``durable``),
        # without a session's layers (about a third of a burst's database CPU went to them).
        await db.fetch(_DURABLE)
    except BaseException as exc:  # noqa: BLE001 - handed to every joiner (Unavailable: "busy")
        done.set_exception(exc)
    else:
        done.set_result(None)
    finally:
        _FLUSHES.discard(asyncio.current_task())


_DURABLE = "SELECT pg_current_xact_id()"
_NEXT_FLUSH: weakref.WeakKeyDictionary[Database, asyncio.Future[None]] = weakref.WeakKeyDictionary()
#: The running flush tasks, referenced so that they are not collected mid-flight.
_FLUSHES: set[asyncio.Task[None]] = set()


async def durable(s: AsyncSession) -> None:
    """Wait until every commit before this one is on disk (write-ahead log order).

    A transaction holding an xid commits with a WAL record and, at the default synchronous_commit,
    flushes the log up to it: the asynchronous commits before it are flushed with it.
    """
    await s.execute(text("SELECT pg_current_xact_id()"))
