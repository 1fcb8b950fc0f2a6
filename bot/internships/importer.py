"""Importing posts: validate the whole file, write it in one transaction, tell matching subscribers.

The same file again changes nothing (posts are keyed on ``post_id`` and an unchanged row is not
written); a changed row updates its post. Posts new to the database are matched against every
subscription in PostgreSQL, and each subscriber gets at most one ``internship_match`` notice
for the import, listing the matches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import Services
from bot.db import Database
from bot.db.internships import people
from bot.db.internships.posts import Written, upsert_posts
from bot.imports import progress, read_rows
from bot.internships.index import facets, tsvector
from bot.internships.records import Post, parse_posts
from bot.model import Reply
from bot.outbound import Notice
from bot.text import Analyzer

PURPOSE = "internship_match"
#: Posts named in one notice; the rest are counted.
NOTICE_LINES = 5


@dataclass(slots=True, frozen=True)
class Imported:
    rows: int
    written: Written
    notified: int = 0


def facets_of(post: Post) -> list[str]:
    return facets(post.street, post.industry, post.season, post.hmt_round, post.paid)


def vector_of(analyzer: Analyzer, post: Post) -> str:
    """The post's search vector: title A, industry and majors B, description C, company D, facets."""
    majors = post.majors.replace(";", " ")
    return tsvector(
        analyzer,
        [("A", post.title), ("B", f"{post.industry} {majors}"), ("C", post.description), ("D", post.company)],
        facets_of(post),
    )


def title_vector_of(analyzer: Analyzer, post: Post) -> str:
    """The title's terms and the facets: the first tier of the search (a title match ranks first)."""
    return tsvector(analyzer, [("A", post.title)], facets_of(post))


def read_posts(path: str | Path, streets: list[str]) -> list[Post]:
    """Every row of a .csv or .xlsx file as a post; ``ImportFailed`` names each bad cell."""
    return parse_posts(read_rows(path), streets)


def indexed(analyzer: Analyzer, posts: Sequence[Post]) -> list[tuple[Post, str, str]]:
    return [
        (post, vector_of(analyzer, post), title_vector_of(analyzer, post))
        for post in progress(posts, len(posts), "索引")
    ]


async def write_posts(db: Database, analyzer: Analyzer, posts: Sequence[Post], now: float) -> Written:
    """All posts in one transaction (all or nothing), nobody told (the demo, tests)."""
    pairs = indexed(analyzer, posts)
    async with db.session() as s:
        return await upsert_posts(s, pairs, now)


async def import_file(svc: Services, path: str | Path) -> Imported:
    """The posts and the notices of the subscribers they match, in one transaction."""
    posts = read_posts(path, svc.content.streets)
    pairs = indexed(svc.analyzer, posts)
    async with svc.unit() as unit:
        written = await upsert_posts(unit.session, pairs, svc.now())
        for notice in await match_notices(unit.session, written.inserted, svc.local_now().date()):
            unit.notify(notice)
    return Imported(len(posts), written, unit.sent)


async def match_notices(s: AsyncSession, post_ids: Sequence[int], today: date) -> list[Notice]:
    """One notice per subscriber whose subscriptions match some of ``post_ids``."""
    if not post_ids:
        return []
    found = await people.matches(s, post_ids, today)
    by_user: dict[int, list[people.Match]] = defaultdict(list)
    for match in found:
        by_user[match.user_id].append(match)
    # The import's first new post names the import: the key is the same if the notices are retried.
    batch = min(post_ids)
    notices = []
    for user_id, items in by_user.items():
        labels = list(dict.fromkeys(label for m in items for label in m.labels))
        lines = "\n".join(f"· {m.title}｜{m.company}（{m.street}）" for m in items[:NOTICE_LINES])
        more = f"\n……共 {len(items)} 个" if len(items) > NOTICE_LINES else ""
        reply = Reply(
            "internships.match_notice",
            {"labels": "、".join(labels), "count": len(items), "lines": lines, "more": more, "again": labels[0]},
        )
        first = items[0]
        keyword = "、".join(labels)
        fields = {"keyword": keyword, "count": str(len(items)), "title": first.title, "company": first.company}
        notices.append(Notice(first.channel, first.external_id, PURPOSE, reply, f"{PURPOSE}:{batch}:{user_id}", fields))
    return notices
