"""The embedded default: a large write-behind batch on SQLite goes out whole (its parameter cap)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import func, select

from bot.db import Database
from bot.db.migrate import upgrade_async
from bot.db.models import User
from bot.db.users import Users


def _over_the_parameter_cap() -> int:
    """Rows enough that one multi-row INSERT (9 parameters a row) would exceed this build's cap."""
    with sqlite3.connect(":memory:") as conn:
        return conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // 9 + 100


async def test_a_backlog_beyond_the_parameter_cap_flushes_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'longtuan.db'}"
    await upgrade_async(url)
    db = Database.from_url(url)
    try:
        users = Users(db)
        count = _over_the_parameter_cap()
        for i in range(count):
            users.touch("wechat", f"o-backlog-{i}", 1_764_000_000 + i, subscribed=True if i % 2 else None)
        assert await users.flush() == count
        async with db.session() as s:
            total = (await s.execute(select(func.count()).select_from(User))).scalar_one()
            stamped = select(func.count()).where(User.subscribed_at.is_not(None))
            subscribed_at = (await s.execute(stamped)).scalar_one()
    finally:
        await db.close()
    assert (total, subscribed_at) == (count, count // 2)
