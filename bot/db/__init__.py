"""The relational database: engine, sessions, and the breaker that turns outages into "busy"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot.breaker import Breaker
from bot.errors import Unavailable

#: Errors that mean "the database cannot be reached", as opposed to a bug in a query.
#: A pool with every connection taken for its whole time-out (PoolTimeout) is an outage as well.
OUTAGE = (OperationalError, InterfaceError, DBAPIError, OSError, TimeoutError, PoolTimeout)


def is_outage(exc: BaseException) -> bool:
    """True for lost or refused connections; False for a constraint violation or a bad query."""
    if isinstance(exc, (OperationalError, InterfaceError, OSError, TimeoutError, PoolTimeout)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def make_engine(url: str) -> AsyncEngine:
    if not url:
        raise Unavailable("no database URL (LONGTUAN_DATABASE_URL, or the embedded server of `longtuan serve`)")
    # A dead server must fail a message in well under WeChat's 5 seconds: connect timeout 2 s,
    # pre-ping so connections broken by a restart are replaced instead of failing a user.
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        pool_timeout=2,
        connect_args={"timeout": 2, "command_timeout": 5},
    )


class Database:
    def __init__(self, engine: AsyncEngine, breaker: Breaker | None = None) -> None:
        self.engine = engine
        self.breaker = breaker or Breaker("database", cooldown=1.0)
        self.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(make_engine(url))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work; commits on success. Raises ``Unavailable`` when the database is down."""
        self.breaker.check()
        try:
            async with self.sessionmaker() as session, session.begin():
                yield session
        except OUTAGE as exc:
            if not is_outage(exc):
                raise
            raise self.breaker.failed(exc) from exc
        self.breaker.succeeded()

    async def ping(self) -> None:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except OUTAGE as exc:
            raise Unavailable(f"database: {type(exc).__name__}") from exc
        self.breaker.succeeded()

    async def close(self) -> None:
        await self.engine.dispose()
