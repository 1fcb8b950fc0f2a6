"""Shared helpers of the 展翅计划 tests: the demo posts in the test database, on a chosen day."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bot.db import Database
from bot.internships.demo import shift_to
from bot.internships.importer import read_posts, write_posts
from bot.internships.records import Post
from tests.conftest import shared_content

ROOT = Path(__file__).resolve().parent.parent.parent
DEMO = ROOT / "content" / "demo" / "internships.csv"


def demo_posts(today: date) -> list[Post]:
    content, _ = shared_content()
    return shift_to(read_posts(DEMO, content.streets), today)


async def load_demo_posts(db: Database, today: date, now: float) -> list[Post]:
    """The 194 demo posts, dates moved so the earliest deadline is a week or two after ``today``."""
    _, analyzer = shared_content()
    posts = demo_posts(today)
    await write_posts(db, analyzer, posts, now)
    return posts
