"""Demo posts: ``content/demo/internships.csv`` with its dates moved into the coming months."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

from bot.content import load_content
from bot.db import Database
from bot.internships.importer import read_posts, write_posts
from bot.internships.records import Post
from bot.services import load_analyzer

#: The earliest deadline of the demo file lands this many days from today.
LEAD_DAYS = 7


def shift_to(posts: list[Post], today: date) -> list[Post]:
    """Move every date by the same whole number of weeks (weekdays stay), so the earliest
    deadline falls a week or two from ``today``: the demo never goes stale."""
    earliest = min(p.deadline for p in posts)
    days = (today - earliest).days + LEAD_DAYS
    days += -days % 7
    return [p.shifted(days) for p in posts]


async def load_internships(db: Database, folder: Path) -> int:
    path = folder / "internships.csv"
    if db.dialect != "postgresql" or not path.exists():
        return 0  # the search lives in PostgreSQL; the embedded SQLite run has no internships
    content = load_content(folder.parent)
    posts = shift_to(read_posts(path, content.streets), date.today())
    await write_posts(db, load_analyzer(content), posts, time.time())
    return len(posts)
