"""The relational database: engine, sessions, and the breaker that turns outages into "busy".

Connections are checked for life when they leave the pool (``_check_alive``), not by SQLAlchemy's
``pool_pre_ping``: on asyncpg that ping is three round trips (BEGIN, ``;``, ROLLBACK) and cost
about 300 µs of CPU per checkout here (573 against 261 µs for a checkout and one SELECT), more
than many of the handlers' own queries. The check uses the documented pool ``checkout`` event:
a connection whose socket the server or the network closed is known to asyncpg at once
(``is_closed``) and is replaced; one that sat in the pool longer than ``PING_AFTER_IDLE`` seconds,
where a silently dropped path could hide, gets the dialect's full ping first. ``fetch`` runs one
read straight on asyncpg, without SQLAlchemy's session and result layers.

``fetch`` and ``execute`` also keep their connections between statements instead of checking each
in and out of the pool: measured with one read, 89-106 µs of CPU through the pool against 37-45
kept, as on a bare asyncpg connection. The pool stays the owner (a kept connection is checked out
from it, checked for life and idleness as above, and given back to it); the rules are in
``_MARGIN``, the tests in ``tests/hardening/test_db_pool.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeVar, cast

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from bot.breaker import Breaker
from bot.db.batch import Batcher
from bot.errors import Unavailable

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: What asyncpg raises itself when the server goes away mid-query, for statements run straight on
#: the driver (``fetch``, ``driver``); SQLAlchemy wraps the others.
_DRIVER_OUTAGE = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError)

#: Errors that mean "the database cannot be reached", as opposed to a bug in a query.
#: A pool with every connection taken for its whole time-out (PoolTimeout) is an outage as well.
OUTAGE = (OperationalError, InterfaceError, DBAPIError, OSError, TimeoutError, PoolTimeout, *_DRIVER_OUTAGE)


def is_outage(exc: BaseException) -> bool:
    """True for lost or refused connections; False for a constraint violation or a bad query."""
    if isinstance(exc, (OperationalError, InterfaceError, OSError, TimeoutError, PoolTimeout, *_DRIVER_OUTAGE)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


#: A connection idle in the pool longer than this gets a full ping before it is handed out.
PING_AFTER_IDLE = 30.0

#: ``Database.fetch`` and ``execute`` keep their connections between statements rather than check
#: them in and out of SQLAlchemy's pool each time (two greenlet switches and the pool's events:
#: about 30 µs of CPU a statement here, half of what SQLAlchemy adds to a raw asyncpg read). One
#: is kept only while more than ``_MARGIN`` of the pool's connections are free besides (open or
#: still to open), and a session that finds fewer free has enough of the kept ones given back
#: first: a session does not wait behind a kept connection.
_MARGIN = 2


def _drop(pooled: PoolProxiedConnection) -> None:
    """A dead connection's slot back to the pool, which opens a new one when it is next asked."""
    pooled.invalidate()
    pooled.close()


def _checked_in(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
    record.info["idle_since"] = time.monotonic()


def _check_alive(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, proxy: PoolProxiedConnection) -> None:
    """Refuse a dead connection at checkout; the pool then replaces it (``DisconnectionError``)."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is None or driver.is_closed():
        raise DisconnectionError("the connection was closed")
    idle_since = record.info.get("idle_since")
    if idle_since is not None and time.monotonic() - idle_since > PING_AFTER_IDLE:
        try:
            dbapi_connection.ping()  # the asyncpg adapter's ping
        except Exception as exc:
            raise DisconnectionError(f"the connection did not answer a ping ({type(exc).__name__})") from exc


def make_engine(url: str, pool: int = 20) -> AsyncEngine:
    if not url:
        raise Unavailable("no database URL (LONGTUAN_DATABASE_URL, or the embedded server of `longtuan serve`)")
    # A dead server must fail a message in well under WeChat's 5 seconds: connect timeout 2 s;
    # connections broken by a restart are replaced at checkout instead of failing a user. No
    # overflow: under a burst, connections opened beyond the pool and closed again at checkin cost
    # a connect each (and each new connection prepares its statements again).
    engine = create_async_engine(
        url,
        pool_size=pool,
        max_overflow=0,
        pool_timeout=2,
        connect_args={"timeout": 2, "command_timeout": 5},
    )
    event.listen(engine.sync_engine.pool, "checkin", _checked_in)
    event.listen(engine.sync_engine.pool, "checkout", _check_alive)
    return engine


_BEGIN = text("SELECT 1")


async def driver(s: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under ``s``, for a hot statement run without SQLAlchemy's layers.

    About 80 µs of CPU a statement against 280-320 for ``session.execute`` here. Parameters are
    asyncpg's ``$1``; rows are ``asyncpg.Record``. In a transactional session the statement runs
    inside its transaction (SQLAlchemy sends BEGIN lazily, so it is made to first); an autocommit
    session (``courses.sessions``) gets the connection as it is. Outages raise what ``OUTAGE``
    names, which ``Database.session`` and the callers' breakers turn into ``Unavailable``.
    """
    # The connection of the session's current transaction, once found, is kept with it: a session
    # holds one connection until its transaction ends, and a signup session asks twice a signup.
    kept = s.info.get(_DRIVER)
    transaction = s.sync_session.get_transaction()
    if kept is not None and transaction is not None and kept[0] is transaction:
        return cast(asyncpg.Connection, kept[1])
    conn = await s.connection()
    options = conn.sync_connection.get_execution_options() if conn.sync_connection is not None else {}
    if options.get("isolation_level") != "AUTOCOMMIT":
        await s.execute(_BEGIN)
    raw = await conn.get_raw_connection()
    found = raw.driver_connection
    assert isinstance(found, asyncpg.Connection)  # the engine is postgresql+asyncpg
    s.info[_DRIVER] = (s.sync_session.get_transaction(), found)
    return found


#: Where ``driver`` keeps, in ``AsyncSession.info``, its transaction and that transaction's connection.
_DRIVER = "longtuan.driver"


class Database:
    def __init__(self, engine: AsyncEngine, breaker: Breaker | None = None) -> None:
        self.engine = engine
        self.breaker = breaker or Breaker("database", cooldown=1.0)
        self.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        self._pool = engine.sync_engine.pool
        #: Connections ``fetch`` and ``execute`` keep between statements (``_MARGIN``).
        self._leases: list[tuple[PoolProxiedConnection, asyncpg.Connection, float]] = []
        #: The batchers made so far, by name (``batcher``; their counts are on /metrics).
        self.batchers: dict[str, Batcher[Any, Any]] = {}

    @classmethod
    def from_url(cls, url: str, pool: int = 20) -> Database:
        return cls(make_engine(url, pool))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work; commits on success. Raises ``Unavailable`` when the database is down."""
        self.breaker.check()
        try:
            async with self.sessionmaker() as session, session.begin():
                if self._leases:
                    # A session never waits behind a kept connection: enough go back to leave the
                    # margin, and the session takes its connection now (not at its first statement),
                    # so that sessions starting together each see what the others took.
                    short = _MARGIN + 1 - self._spare()
                    if short > 0:
                        await self._give_back_leases(max(0, len(self._leases) - short))
                    await session.connection()
                yield session
        except OUTAGE as exc:
            if not is_outage(exc):
                raise
            raise self.breaker.failed(exc) from exc
        self.breaker.succeeded()

    async def _lease(self) -> tuple[PoolProxiedConnection, asyncpg.Connection]:
        """A connection for one statement of ``fetch`` or ``execute``: one kept from an earlier
        statement if there is one (open, not idle past ``PING_AFTER_IDLE``), else the pool's."""
        leases = self._leases
        while leases:
            pooled, conn, since = leases.pop()
            if not conn.is_closed() and time.monotonic() - since <= PING_AFTER_IDLE:
                return pooled, conn
            if not conn.is_closed():
                # Kept past the idle limit: the dialect's ping, as the pool's checkout gives.
                try:
                    await greenlet_spawn(pooled.dbapi_connection.ping)  # type: ignore[union-attr]
                    return pooled, conn
                except Exception:  # noqa: BLE001 - a connection that does not answer is replaced
                    pass
            await greenlet_spawn(_drop, pooled)
        pooled = await self.engine.raw_connection()
        conn = pooled.driver_connection
        assert isinstance(conn, asyncpg.Connection)  # the engine is postgresql+asyncpg
        return pooled, conn

    async def _release(self, pooled: PoolProxiedConnection, conn: asyncpg.Connection, ok: bool) -> None:
        """Keep the connection for the next statement while the pool has others to spare; else
        (or after a failed statement) give it back to the pool."""
        if ok and self._spare() > _MARGIN and not conn.is_closed():
            self._leases.append((pooled, conn, time.monotonic()))
        else:
            await greenlet_spawn(pooled.close)

    def _spare(self) -> int:
        """Connections of the pool nobody holds, open or still to open."""
        pool = self._pool
        return int(pool.size() - pool.checkedout())  # type: ignore[attr-defined]

    async def _give_back_leases(self, keep: int = 0) -> None:
        while len(self._leases) > keep:
            pooled, _, _ = self._leases.pop()
            await greenlet_spawn(pooled.close)

    async def _driver_call(self, fetch: bool, query: str, args: tuple[Any, ...]) -> Any:
        """One statement on a kept or pooled connection, outside any transaction; outages raise
        ``Unavailable`` as ``session`` does."""
        self.breaker.check()
        try:
            pooled, conn = await self._lease()
            ok = False
            try:
                result = await (conn.fetch(query, *args) if fetch else conn.execute(query, *args))
                ok = True
            finally:
                await self._release(pooled, conn, ok)
        except OUTAGE as exc:
            if not is_outage(exc):
                raise
            raise self.breaker.failed(exc) from exc
        self.breaker.succeeded()
        return result

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        """The rows of one read (``$1``-style parameters), straight on asyncpg: no session, no transaction.

        For the reads answered to everyone who asks (「我的时长」, 「青年大学习」): asyncpg prepares and
        caches the statement per connection.
        """
        rows: list[Any] = await self._driver_call(True, query, args)
        return rows

    async def execute(self, query: str, *args: Any) -> None:
        """One statement that changes what it changes on its own (its own commit): a single
        ``INSERT`` needs no session, no ``BEGIN`` and no ``COMMIT`` round trips around it."""
        await self._driver_call(False, query, args)

    def batcher(self, name: str, load: Callable[[Database, Sequence[K]], Awaitable[Mapping[K, V]]]) -> Batcher[K, V]:
        """This database's ``Batcher`` called ``name`` (``bot.db.batch``), made with ``load`` on first use."""
        found = self.batchers.get(name)
        if found is None:
            found = self.batchers[name] = Batcher(partial(load, self))
        return cast(Batcher[K, V], found)

    async def warm(self, connections: int) -> int:
        """Open up to ``connections`` of the pool at once, so that the first burst after a start
        does not open them one by one (a connect and its type introspection cost milliseconds
        each). Best effort: returns how many opened; a database that is down is left to the breaker."""
        pool = self.engine.sync_engine.pool
        wanted = max(0, min(connections, pool.size()) - pool.checkedin())  # type: ignore[attr-defined]

        async def one() -> AsyncConnection | None:
            try:
                conn = await self.engine.connect()
                await conn.exec_driver_sql("SELECT 1")
                return conn
            except Exception:  # noqa: BLE001 - warming is only a help: the first request connects anyway
                return None

        opened = await asyncio.gather(*(one() for _ in range(wanted)))
        for conn in opened:
            if conn is not None:
                await conn.close()  # back to the pool, open
        return sum(conn is not None for conn in opened)

    async def ping(self) -> None:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except OUTAGE as exc:
            raise Unavailable(f"database: {type(exc).__name__}") from exc
        self.breaker.succeeded()

    async def close(self) -> None:
        await self._give_back_leases()
        await self.engine.dispose()
