"""Users: who follows the account, when they were last seen, and their few profile fields.

``last_seen`` changes on every message, so it is written behind: ``touch`` records it in memory
and ``flush`` upserts the batch in one statement (every second, from a background task). A
subscribe or unsubscribe is flushed the same way but never dropped: if the database is down the
batch stays queued (bounded) and goes out when it is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.db import Database
from bot.db.models import User
from bot.errors import Unavailable

log = logging.getLogger("longtuan.users")


@dataclass(slots=True)
class Touch:
    channel: str
    openid: str
    seen: float
    subscribed: bool | None = None
    scene: str = ""


class Users:
    def __init__(self, db: Database, *, max_pending: int = 200_000) -> None:
        self.db = db
        self.max_pending = max_pending
        self._pending: dict[tuple[str, str], Touch] = {}
        self._flushing = asyncio.Lock()

    def touch(self, channel: str, openid: str, seen: float, *, subscribed: bool | None = None, scene: str = "") -> None:
        key = (channel, openid)
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
        """Write every pending touch in one upsert; returns how many rows were written."""
        async with self._flushing:
            if not self._pending:
                return 0
            batch, self._pending = self._pending, {}
            try:
                await self._upsert(list(batch.values()))
            except Unavailable:
                self._requeue(batch.values())
                raise
            return len(batch)

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
        insert = postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert
        rows = []
        for t in items:
            seen = datetime.fromtimestamp(t.seen, UTC)
            rows.append(
                {
                    "channel": t.channel,
                    "openid": t.openid,
                    "subscribed": t.subscribed if t.subscribed is not None else True,
                    "first_scene": t.scene,
                    "first_seen": seen,
                    "last_seen": seen,
                    "subscribed_at": seen if t.subscribed else None,
                    "unsubscribed_at": seen if t.subscribed is False else None,
                    "street": "",
                }
            )
        # Same row shape everywhere; what differs is which columns an existing row takes.
        plain = [r for r, t in zip(rows, items, strict=True) if t.subscribed is None]
        subs = [r for r, t in zip(rows, items, strict=True) if t.subscribed is True]
        unsubs = [r for r, t in zip(rows, items, strict=True) if t.subscribed is False]
        async with self.db.session() as s:
            for group, columns in (
                (plain, ("last_seen",)),
                (subs, ("last_seen", "subscribed", "subscribed_at")),
                (unsubs, ("last_seen", "subscribed", "unsubscribed_at")),
            ):
                if not group:
                    continue
                stmt = insert(User).values(group)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["channel", "openid"], set_={c: getattr(stmt.excluded, c) for c in columns}
                )
                await s.execute(stmt)

    async def get(self, channel: str, openid: str) -> User | None:
        async with self.db.session() as s:
            return (
                await s.execute(select(User).where(User.channel == channel, User.openid == openid))
            ).scalar_one_or_none()

    async def set_street(self, channel: str, openid: str, street: str, now: float) -> None:
        """Save the user's street, creating the row if the write-behind has not yet."""
        self.touch(channel, openid, now)
        await self.flush_one(channel, openid)
        async with self.db.session() as s:
            await s.execute(update(User).where(User.channel == channel, User.openid == openid).values(street=street))

    async def flush_one(self, channel: str, openid: str) -> None:
        item = self._pending.pop((channel, openid), None)
        if item is not None:
            try:
                await self._upsert([item])
            except Unavailable:
                self._requeue([item])
                raise

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
