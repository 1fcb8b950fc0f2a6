"""Demo posts: ``content/demo/internships.csv`` with its dates moved into the coming months."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

from bot.content import load_content
from bot.db import Database
from bot.internships.importer import read_posts, write_posts
from bot.internships.records import Post
from bot.services import load_analyzer

#: The earliest deadline of the demo file lands this many days from today.
LEAD_DAYS = 7


def _years_later(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def shift_to(posts: list[Post], today: date) -> list[Post]:
    """Move each post by whole years, as few as put its deadline at least ``LEAD_DAYS`` ahead:
    every demo post is open, deadlines spread over the coming year, and a 寒假 post still starts
    in winter. The demo never goes stale."""
    soon = today + timedelta(days=LEAD_DAYS)
    out = []
    for post in posts:
        years = max(0, soon.year - post.deadline.year - 1)
        while _years_later(post.deadline, years) < soon:
            years += 1
        moved = _years_later(post.deadline, years)
        out.append(post.shifted((moved - post.deadline).days))
    return out


async def load_internships(db: Database, folder: Path) -> int:
    path = folder / "internships.csv"
    if not path.exists():
        return 0  # no demo file: nothing to load
    content = load_content(folder.parent)
    posts = shift_to(read_posts(path, content.streets), date.today())
    await write_posts(db, load_analyzer(content), posts, time.time())
    return len(posts)
