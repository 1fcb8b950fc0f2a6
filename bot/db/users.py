"""Users: who follows the account, when they were last seen, and their few profile fields.

``last_seen`` changes on every message, so it is written behind: ``touch`` records it in memory
and ``flush`` upserts the batch in one statement (every second, from a background task). A
subscribe or unsubscribe is flushed the same way but never dropped: if the database is down the
batch stays queued (bounded) and goes out when it is back; and a row that fails for another
reason fails alone (the batch is retried row by row), so no value takes other people's rows down.

``last_seen`` is kept to ``resolution`` seconds (LONGTUAN_LAST_SEEN_RESOLUTION, 60): a user this
process wrote less than that ago is not written again. A chatting user costs one row a minute
instead of one a second, and the flush stays small (5,000 rows a second under the benchmark
stalled the event loop for milliseconds every second). A window computed from it, such as the
48 hours in which WeChat accepts customer-service messages, closes at most that much early.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import Database
from bot.db.models import User
from bot.errors import Unavailable

log = logging.getLogger("longtuan.users")

_PG_UPSERT = text("""
INSERT INTO users (channel, external_id, subscribed, first_scene, first_seen, last_seen, subscribed_at,
                   unsubscribed_at, street)
SELECT c, o, s IS NOT FALSE, sc, t, t, CASE WHEN s THEN t END, CASE WHEN NOT s THEN t END, ''
FROM unnest(CAST(:channels AS text[]), CAST(:openids AS text[]), CAST(:subs AS boolean[]),
            CAST(:scenes AS text[]), CAST(:seen AS timestamptz[])) AS u(c, o, s, sc, t)
ON CONFLICT (channel, external_id) DO UPDATE SET
  last_seen = GREATEST(users.last_seen, excluded.last_seen),
  subscribed = CASE WHEN excluded.subscribed_at IS NOT NULL THEN TRUE
                    WHEN excluded.unsubscribed_at IS NOT NULL THEN FALSE
                    ELSE users.subscribed END,
  subscribed_at = COALESCE(excluded.subscribed_at, users.subscribed_at),
  unsubscribed_at = COALESCE(excluded.unsubscribed_at, users.unsubscribed_at)
""")


@dataclass(slots=True)
class Touch:
    channel: str
    openid: str
    seen: float
    subscribed: bool | None = None
    scene: str = ""


class Users:
    def __init__(self, db: Database, *, max_pending: int = 200_000, resolution: float = 60.0) -> None:
        self.db = db
        self.max_pending = max_pending
        self.resolution = resolution
        self._pending: dict[tuple[str, str], Touch] = {}
        #: last_seen as this process last wrote it, oldest write first (so pruning stops early)
        self._written: dict[tuple[str, str], float] = {}
        self._flushing = asyncio.Lock()
        #: The latest touches the database refused on their own, with why: kept for an operator
        #: to look at, never retried (they would fail again every second).
        self.rejected: deque[tuple[Touch, str]] = deque(maxlen=1000)

    def touch(self, channel: str, openid: str, seen: float, *, subscribed: bool | None = None, scene: str = "") -> None:
        key = (channel, openid)
        if subscribed is None:
            written = self._written.get(key)
            if written is not None and seen - written < self.resolution:
                return  # the database's last_seen is recent enough
        current = self._pending.get(key)
        if current is None:
            if len(self._pending) >= self.max_pending and subscribed is None:
                return  # under a long outage, last-seen times are the first thing to let go
            self._pending[key] = Touch(channel, openid, seen, subscribed, scene)
            return
        current.seen = max(current.seen, seen)
        if subscribed is not None:
            current.subscribed = subscribed
        current.scene = current.scene or scene

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> int:
        """Write every pending touch in one upsert; returns how many rows were written.

        A batch that fails for any reason but an outage is written again row by row: one bad
        value (a time no timestamp can hold) must not take other people's follows down with it.
        A row that fails alone is kept in ``rejected`` and logged; every other row is written.
        """
        async with self._flushing:
            if not self._pending:
                return 0
            batch, self._pending = self._pending, {}
            items = list(batch.values())
            try:
                await self._upsert(items)
            except Unavailable:
                self._requeue(items)
                raise
            except Exception as exc:  # noqa: BLE001 - whatever it is, it is one row's: find it
                log.warning("user batch failed, writing it row by row", extra={"rows": len(items), "error": repr(exc)})
                items = await self._row_by_row(items)
            self._remember(items)
            return len(items)

    async def _row_by_row(self, items: list[Touch]) -> list[Touch]:
        """Write each touch alone; returns those written. An outage midway puts the rest back."""
        written: list[Touch] = []
        for at, item in enumerate(items):
            try:
                await self._upsert([item])
            except Unavailable:
                self._remember(written)
                self._requeue(items[at:])
                raise
            except Exception as exc:  # noqa: BLE001 - this row's own failure: keep it, go on
                self.rejected.append((item, repr(exc)))
                log.error(
                    "user write rejected",
                    extra={
                        "channel": item.channel,
                        "openid": item.openid,
                        "seen": item.seen,
                        "subscribed": item.subscribed,
                        "error": repr(exc),
                    },
                )
            else:
                written.append(item)
        return written

    def _remember(self, items: Iterable[Touch]) -> None:
        """Note what was written, and forget what is older than the resolution (bounded memory)."""
        written = self._written
        newest = 0.0
        for item in items:
            key = (item.channel, item.openid)
            written.pop(key, None)  # re-inserted last: the dict stays in order of writing
            written[key] = item.seen
            newest = max(newest, item.seen)
        cutoff = newest - self.resolution
        while written:
            oldest = next(iter(written))
            if written[oldest] >= cutoff:
                break
            del written[oldest]

    def _requeue(self, items: Iterable[Touch]) -> None:
        """Put back touches that could not be written, merged under any newer ones."""
        for item in items:
            newer = self._pending.get((item.channel, item.openid))
            if newer is None:
                self._pending[(item.channel, item.openid)] = item
                continue
            newer.seen = max(newer.seen, item.seen)
            if newer.subscribed is None:
                newer.subscribed = item.subscribed
            newer.scene = item.scene or newer.scene  # the first scene is the one that brought them

    async def _upsert(self, items: list[Touch]) -> None:
        """One statement for the whole batch; an existing row keeps what a plain touch does not say.

        A subscribe or unsubscribe is told apart by its ``subscribed_at`` / ``unsubscribed_at``
        being set, so plain touches, follows and leaves share one statement.
        """
        if not items:
            return
        seen = [datetime.fromtimestamp(t.seen, UTC) for t in items]
        async with self.db.session() as s:
            # unnest() binds five arrays instead of 9 x N parameters: compiling a multi-row
            # VALUES for a batch of 800 took 0.3 s of event-loop time, this takes 30 ms.
            await s.execute(
                _PG_UPSERT,
                {
                    "channels": [t.channel for t in items],
                    "openids": [t.openid for t in items],
                    "subs": [t.subscribed for t in items],
                    "scenes": [t.scene for t in items],
                    "seen": seen,
                },
            )

    async def get(self, channel: str, openid: str) -> User | None:
        async with self.db.session() as s:
            return (
                await s.execute(select(User).where(User.channel == channel, User.external_id == openid))
            ).scalar_one_or_none()

    async def set_street(self, channel: str, openid: str, street: str, now: float) -> None:
        """Save the user's street, creating the row if the write-behind has not yet."""
        self.touch(channel, openid, now)
        await self.flush_one(channel, openid)
        async with self.db.session() as s:
            await s.execute(
                update(User).where(User.channel == channel, User.external_id == openid).values(street=street)
            )

    async def flush_one(self, channel: str, openid: str) -> None:
        item = self._pending.pop((channel, openid), None)
        if item is not None:
            try:
                await self._upsert([item])
            except Unavailable:
                self._requeue([item])
                raise
            self._remember([item])

    async def run_flusher(self, interval: float = 1.0) -> None:
        """Background task: flush every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.flush()
            except Unavailable:
                log.warning("user flush postponed", extra={"pending": self.pending})
            except Exception:
                log.exception("user flush failed")


_ENSURE = text("""
INSERT INTO users (channel, external_id, subscribed, first_scene, first_seen, last_seen, street)
VALUES (:channel, :openid, TRUE, '', :now, :now, '')
ON CONFLICT (channel, external_id) DO UPDATE SET last_seen = GREATEST(users.last_seen, excluded.last_seen)
RETURNING id
""")


async def ensure_user(session: AsyncSession, channel: str, openid: str, now: float) -> int:
    """The ``users.id`` of this person, creating the row if the write-behind has not written it yet.

    Programme tables reference ``users.id``; a handler calls this inside its own transaction.
    """
    at = datetime.fromtimestamp(now, UTC)
    return int((await session.execute(_ENSURE, {"channel": channel, "openid": openid, "now": at})).scalar_one())
