"""users.last_seen on PostgreSQL: kept to a resolution, so a chatting user is not rewritten every second."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.db import Database
from bot.db.models import User
from bot.db.users import Users
from tests.conftest import PG_URL

T0 = 1_764_000_000.0


async def _row(db: Database, openid: str) -> User:
    async with db.session() as s:
        return (await s.execute(select(User).where(User.external_id == openid))).scalar_one()


async def test_last_seen_is_written_at_most_once_a_resolution(clean_db: None) -> None:
    db = Database.from_url(PG_URL)
    try:
        users = Users(db, resolution=60)
        users.touch("wechat", "o-seen-1", T0)
        assert await users.flush() == 1

        users.touch("wechat", "o-seen-1", T0 + 30)  # half a minute later: the stored time will do
        assert users.pending == 0 and await users.flush() == 0
        assert (await _row(db, "o-seen-1")).last_seen == datetime.fromtimestamp(T0, UTC)

        users.touch("wechat", "o-seen-1", T0 + 61)  # past the resolution: written again
        assert await users.flush() == 1
        assert (await _row(db, "o-seen-1")).last_seen == datetime.fromtimestamp(T0 + 61, UTC)

        # A follow or an unfollow is never held back, however recent the last write.
        users.touch("wechat", "o-seen-1", T0 + 62, subscribed=False)
        assert await users.flush() == 1
        row = await _row(db, "o-seen-1")
        assert not row.subscribed and row.unsubscribed_at == datetime.fromtimestamp(T0 + 62, UTC)
    finally:
        await db.close()


async def test_what_it_remembers_stays_bounded(clean_db: None) -> None:
    db = Database.from_url(PG_URL)
    try:
        users = Users(db, resolution=60)
        for minute in range(5):
            for i in range(200):
                users.touch("wechat", f"o-seen-{minute}-{i}", T0 + minute * 60 + i / 1000)
            await users.flush()
        # Only the writes of the last resolution are kept in memory, not every user ever seen.
        newest = T0 + 4 * 60 + 0.199
        assert all(seen >= newest - 60 for seen in users._written.values())
        assert 200 <= len(users._written) <= 201  # the last minute's, and the one right on its edge
    finally:
        await db.close()


async def test_resolution_zero_writes_every_touch(clean_db: None) -> None:
    db = Database.from_url(PG_URL)
    try:
        users = Users(db, resolution=0)
        for second in range(3):
            users.touch("wechat", "o-seen-2", T0 + second)
            assert await users.flush() == 1
        assert (await _row(db, "o-seen-2")).last_seen == datetime.fromtimestamp(T0 + 2, UTC)
    finally:
        await db.close()
