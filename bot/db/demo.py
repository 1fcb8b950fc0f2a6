"""Demo data: loads ``content/demo/*.toml`` into the database; running it twice changes nothing.

Each programme adds its own loader to ``LOADERS`` (courses, projects, posts ...), in order.
"""

from __future__ import annotations

import tomllib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.dialects import postgresql

from bot.db import Database
from bot.db.care_demo import load_care
from bot.db.courses.demo import load_courses
from bot.db.models import User
from bot.db.study.demo import load_study

Loader = Callable[[Database, Path], Awaitable[int]]


async def load_users(db: Database, folder: Path) -> int:
    with (folder / "users.toml").open("rb") as fh:
        people = tomllib.load(fh).get("user", [])
    if not people:
        return 0
    now = datetime.now(UTC)
    rows = [
        {
            "channel": p.get("channel", "wechat"),
            "external_id": p["openid"],
            "street": p.get("street", ""),
            "subscribed": bool(p.get("subscribed", True)),
            "first_scene": "",
            "first_seen": now,
            "last_seen": now,
            "subscribed_at": now if p.get("subscribed", True) else None,
            "unsubscribed_at": None,
        }
        for p in people
    ]
    stmt = postgresql.insert(User).values(rows)
    # Idempotent: a second run refreshes the demo profile fields and keeps every other column.
    stmt = stmt.on_conflict_do_update(
        index_elements=["channel", "external_id"],
        set_={"street": stmt.excluded.street, "subscribed": stmt.excluded.subscribed},
    )
    async with db.session() as s:
        await s.execute(stmt)
    return len(rows)


async def load_volunteer(db: Database, folder: Path) -> int:
    from bot.db.volunteer import demo

    return await demo.load(db, folder)


async def _internships(db: Database, folder: Path) -> int:
    from bot.internships.demo import load_internships  # jieba and the programme load only when asked

    return await load_internships(db, folder)


LOADERS: list[tuple[str, Loader]] = [
    ("users", load_users),
    ("care", load_care),
    ("courses", load_courses),
    ("volunteer projects", load_volunteer),
    ("internships", _internships),
    ("study", load_study),
]


async def load_demo(db: Database, folder: Path) -> dict[str, int]:
    return {name: await loader(db, folder) for name, loader in LOADERS}
