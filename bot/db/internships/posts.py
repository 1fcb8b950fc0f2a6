"""Posts: the import's upsert (keyed on ``post_id``, unchanged rows untouched) and the search.

The search is one statement: the GIN index finds the posts whose vector matches the tsquery,
the filter columns narrow them, ``ts_rank`` orders them (title matches weigh most). Everything
lives in PostgreSQL, so a post imported through one process is found by every other at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.internships.records import Post

_UPSERT = text("""
INSERT INTO internship_posts AS p (post_id, title, company, street, industry, majors, description, positions, pay,
    pay_kind, paid, hmt_round, season, start_date, deadline, status, contact_email, search, digest,
    created_at, updated_at)
VALUES (:post_id, :title, :company, :street, :industry, :majors, :description, :positions, :pay, :pay_kind, :paid,
    :hmt_round, :season, :start_date, :deadline, :status, :contact_email, CAST(:search AS tsvector), :digest,
    :now, :now)
ON CONFLICT (post_id) DO UPDATE SET
    title = excluded.title, company = excluded.company, street = excluded.street, industry = excluded.industry,
    majors = excluded.majors, description = excluded.description, positions = excluded.positions,
    pay = excluded.pay, pay_kind = excluded.pay_kind, paid = excluded.paid, hmt_round = excluded.hmt_round,
    season = excluded.season, start_date = excluded.start_date, deadline = excluded.deadline,
    status = excluded.status, contact_email = excluded.contact_email, search = excluded.search,
    digest = excluded.digest, updated_at = excluded.updated_at
WHERE p.digest IS DISTINCT FROM excluded.digest
RETURNING id, (xmax = 0) AS inserted
""")

#: The columns a result line and a detail page show.
_COLUMNS = (
    "id, post_id, title, company, street, industry, majors, description, positions, pay, paid, hmt_round, "
    "season, start_date, deadline, status, contact_email"
)


@dataclass(slots=True, frozen=True)
class Written:
    #: Internal ids of posts new to the database, and of posts whose row changed.
    inserted: list[int]
    updated: list[int]


@dataclass(slots=True, frozen=True)
class PostRow:
    id: int
    post_id: str
    title: str
    company: str
    street: str
    industry: str
    majors: str
    description: str
    positions: int
    pay: str
    paid: bool
    hmt_round: bool
    season: str
    start_date: date
    deadline: date
    status: str
    contact_email: str

    def is_open(self, today: date) -> bool:
        return self.status == "open" and self.deadline >= today


@dataclass(slots=True, frozen=True)
class Filters:
    street: str | None = None
    industry: str | None = None
    season: str | None = None
    hmt_round: bool | None = None
    paid: bool | None = None


@dataclass(slots=True, frozen=True)
class Found:
    #: Matching open posts, best first (at most the limit asked for).
    ids: list[int]
    #: How many posts match in all.
    total: int


async def upsert_posts(s: AsyncSession, posts: Sequence[tuple[Post, str]], now: float, batch: int = 500) -> Written:
    """Insert new posts, update changed ones; ``posts`` pairs each with its tsvector literal."""
    at = datetime.fromtimestamp(now, UTC)
    inserted: list[int] = []
    updated: list[int] = []
    for start in range(0, len(posts), batch):
        for post, vector in posts[start : start + batch]:
            row = (await s.execute(_UPSERT, _params(post, vector, at))).first()
            if row is not None:
                (inserted if row.inserted else updated).append(int(row.id))
    return Written(inserted, updated)


def _params(post: Post, vector: str, at: datetime) -> dict[str, Any]:
    return {
        "post_id": post.post_id,
        "title": post.title,
        "company": post.company,
        "street": post.street,
        "industry": post.industry,
        "majors": post.majors,
        "description": post.description,
        "positions": post.positions,
        "pay": post.pay,
        "pay_kind": post.pay_kind,
        "paid": post.paid,
        "hmt_round": post.hmt_round,
        "season": post.season,
        "start_date": post.start_date,
        "deadline": post.deadline,
        "status": post.status,
        "contact_email": post.contact_email,
        "search": vector,
        "digest": post.digest,
        "now": at,
    }


def _where(filters: Filters, params: dict[str, Any]) -> str:
    clauses = ["status = 'open'", "deadline >= :today"]
    for name in ("street", "industry", "season", "hmt_round", "paid"):
        value = getattr(filters, name)
        if value is not None:
            clauses.append(f"{name} = :{name}")
            params[name] = value
    return " AND ".join(clauses)


async def search(s: AsyncSession, tsquery: str | None, filters: Filters, today: date, limit: int = 50) -> Found:
    """Open posts matching ``tsquery`` (None: any) and the filters, best first.

    Without keywords the newest posts come first; with them, ``ts_rank`` and then the nearest
    deadline. The total comes from the same scan (``count(*) OVER ()``).
    """
    params: dict[str, Any] = {"today": today, "limit": limit}
    where = _where(filters, params)
    if tsquery:
        params["q"] = tsquery
        sql = (
            f"SELECT id, count(*) OVER () AS total FROM internship_posts, CAST(:q AS tsquery) AS q "
            f"WHERE search @@ q AND {where} ORDER BY ts_rank(search, q) DESC, deadline, id LIMIT :limit"
        )
    else:
        sql = f"SELECT id, count(*) OVER () AS total FROM internship_posts WHERE {where} ORDER BY id DESC LIMIT :limit"
    rows = (await s.execute(text(sql), params)).all()
    return Found([int(r.id) for r in rows], int(rows[0].total) if rows else 0)


async def count(s: AsyncSession, tsquery: str | None, filters: Filters, today: date) -> int:
    params: dict[str, Any] = {"today": today}
    where = _where(filters, params)
    if tsquery:
        params["q"] = tsquery
        where = f"search @@ CAST(:q AS tsquery) AND {where}"
    return int((await s.execute(text(f"SELECT count(*) FROM internship_posts WHERE {where}"), params)).scalar_one())


async def posts_by_id(s: AsyncSession, ids: Sequence[int]) -> list[PostRow]:
    """The posts with these ids, in the order given (missing ones left out)."""
    if not ids:
        return []
    rows = await s.execute(text(f"SELECT {_COLUMNS} FROM internship_posts WHERE id = ANY(:ids)"), {"ids": list(ids)})
    found = {r.id: PostRow(*r) for r in rows}
    return [found[i] for i in ids if i in found]


async def post_count(s: AsyncSession) -> int:
    return int((await s.execute(text("SELECT count(*) FROM internship_posts"))).scalar_one())
