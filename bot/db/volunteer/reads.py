"""A single read outside a transaction: for answers that read one statement and write nothing.

``ctx.db()`` opens a transaction (BEGIN … COMMIT: two round trips around the query). 「我的时长」
is one SELECT, answered for every volunteer who asks, so it reads on an autocommit connection,
with the same outage handling (the breaker, ``Unavailable``) as ``Database.session``. A candidate
for ``Database`` itself if other programmes want it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db import OUTAGE, Database, is_outage


@asynccontextmanager
async def autocommit(db: Database) -> AsyncIterator[AsyncConnection]:
    db.breaker.check()
    try:
        async with db.engine.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")
    except OUTAGE as exc:
        if not is_outage(exc):
            raise
        raise db.breaker.failed(exc) from exc
    db.breaker.succeeded()
