"""Posts: the import's upsert (keyed on ``post_id``, unchanged rows untouched) and the search.

The search is one statement: the GIN index finds the posts whose vector matches the tsquery,
the filter columns narrow them, ``ts_rank`` orders them (title matches weigh most). Everything
lives in PostgreSQL, so a post imported through one process is found by every other at once.

The reads run straight on asyncpg (``Reads``: ``Database`` outside any transaction, the chat's
searches; or a session's connection through ``bot.db.driver``): a search is read by everyone
who writes to the programme, and SQLAlchemy's text clause, compilation and result rows cost
more CPU than the statement's own round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.internships.records import Post

_UPSERT = text("""
INSERT INTO internship_posts AS p (post_id, title, company, street, industry, majors, description, positions, pay,
    pay_kind, paid, hmt_round, season, start_date, deadline, status, contact_email, search, title_terms, digest,
    created_at, updated_at)
VALUES (:post_id, :title, :company, :street, :industry, :majors, :description, :positions, :pay, :pay_kind, :paid,
    :hmt_round, :season, :start_date, :deadline, :status, :contact_email, CAST(:search AS tsvector),
    CAST(:title_terms AS tsvector), :digest,
    :now, :now)
ON CONFLICT (post_id) DO UPDATE SET
    title = excluded.title, company = excluded.company, street = excluded.street, industry = excluded.industry,
    majors = excluded.majors, description = excluded.description, positions = excluded.positions,
    pay = excluded.pay, pay_kind = excluded.pay_kind, paid = excluded.paid, hmt_round = excluded.hmt_round,
    season = excluded.season, start_date = excluded.start_date, deadline = excluded.deadline,
    status = excluded.status, contact_email = excluded.contact_email, search = excluded.search,
    title_terms = excluded.title_terms,
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
    #: How many posts match in all (at least, when ``capped``).
    total: int
    #: True when more posts match than were read (``CANDIDATES`` a tier): 「100+」.
    capped: bool = False
    #: The first page's posts, read with the ids.
    first: list[PostRow] = field(default_factory=list)


async def upsert_posts(
    s: AsyncSession, posts: Sequence[tuple[Post, str, str]], now: float, batch: int = 500
) -> Written:
    """Insert new posts, update changed ones; each post comes with its two tsvector literals
    (the whole post, the title)."""
    at = datetime.fromtimestamp(now, UTC)
    inserted: list[int] = []
    updated: list[int] = []
    for start in range(0, len(posts), batch):
        for post, vector, title in posts[start : start + batch]:
            row = (await s.execute(_UPSERT, {**_params(post, vector, at), "title_terms": title})).first()
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


#: Posts a search reads at most per tier, however common its words: the work (and the time) of a
#: search stays bounded at 100,000 posts. Below it a search is exact; above it the best of these
#: candidates are shown (ten pages of five come from them) and the total reads 「100+」.
CANDIDATES = 100

_OPEN = "status = 'open' AND deadline >= $1"
_PREFIXED = ", ".join(f"p.{c.strip()}" for c in _COLUMNS.split(","))


#: One statement, two tiers: title matches (``t1``), then the posts with the words elsewhere
#: (``t2``, read only as far as the first tier leaves room on the ten pages). The page's rows
#: come with the ids, so a search is one round trip. The tsqueries and limits are written into
#: the statement as literals (``_literal``), not bound: PostgreSQL plans a prepared statement
#: generically after five runs, and that plan, blind to the words, ran 3-4 times slower
#: (bench.search: 15-28 ms against 5-8 ms a search on the same connection).
_TIERED = f"""
WITH q AS MATERIALIZED (SELECT CAST({{q}} AS tsquery) AS q, CAST({{k}} AS tsquery) AS k),
t1 AS MATERIALIZED (
    SELECT p.id, p.search, p.deadline FROM internship_posts p, q
    WHERE p.title_terms @@ q.q AND {_OPEN} LIMIT {CANDIDATES}),
t2 AS MATERIALIZED (
    SELECT p.id, p.search, p.deadline FROM internship_posts p, q
    WHERE p.search @@ q.q AND NOT p.title_terms @@ q.q AND {_OPEN}
    LIMIT GREATEST(0, LEAST({CANDIDATES}, {{limit}} - (SELECT count(*) FROM t1)))),
ranked AS MATERIALIZED (
    SELECT id, row_number() OVER (ORDER BY tier, rank DESC, deadline, id) AS ord FROM (
        SELECT id, 1 AS tier, ts_rank(t1.search, q.k) AS rank, deadline FROM t1, q
        UNION ALL
        SELECT id, 2, ts_rank(t2.search, q.k), deadline FROM t2, q) u
    ORDER BY ord LIMIT {{limit}})
SELECT (SELECT count(*) FROM t1) AS n1, (SELECT count(*) FROM t2) AS n2,
    (SELECT array_agg(id ORDER BY ord) FROM ranked) AS ids, {_PREFIXED}
FROM ranked r JOIN internship_posts p ON p.id = r.id WHERE r.ord <= {{page}}
ORDER BY r.ord
"""

#: The newest open posts (with ``where``: those with the facets), the first page's rows with them.
_NEWEST = f"""
WITH c AS MATERIALIZED (SELECT id FROM internship_posts WHERE {{where}} {{order}} LIMIT {CANDIDATES}),
f AS (SELECT id FROM c ORDER BY id DESC LIMIT {{page}})
SELECT (SELECT count(*) FROM c) AS n1, 0 AS n2, (SELECT array_agg(id ORDER BY id DESC) FROM c) AS ids, {_PREFIXED}
FROM f JOIN internship_posts p ON p.id = f.id ORDER BY p.id DESC
"""


class Reads(Protocol):
    """Where the reads run: ``bot.db.Database`` (no transaction) or an ``asyncpg.Connection``."""

    async def fetch(self, query: str, *args: Any) -> list[Any]: ...


def _literal(value: str) -> str:
    """A SQL string literal of a tsquery this module's caller built (``index.tsquery``): quotes
    doubled, NUL and other control characters dropped (standard_conforming_strings: a backslash
    is an ordinary character)."""
    clean = "".join(ch for ch in value if ch >= " ")
    return "'" + clean.replace("'", "''") + "'"


async def search(
    r: Reads, keywords: str | None, facets: str | None, today: date, limit: int = 50, page: int = 5
) -> Found:
    """Open posts matching the ``keywords`` tsquery and the ``facets`` tsquery (None: any), best first.

    With keywords, posts whose title has them come first (the small ``title_terms`` vector), then
    posts that have them elsewhere; each tier ranked by ``ts_rank`` over the whole post, then the
    nearest deadline. Without keywords, the newest posts first. ``first`` holds the first ``page``.
    """
    if keywords is None:
        # Without facets, the primary key read backwards stops at the cap; with them, the GIN
        # index gives the matches and the cap bounds how many are read.
        where = f"search @@ CAST({_literal(facets)} AS tsquery) AND {_OPEN}" if facets else _OPEN
        sql = _NEWEST.format(where=where, order="" if facets else "ORDER BY id DESC", page=int(page))
    else:
        both = f"({keywords}) & {facets}" if facets else keywords
        sql = _TIERED.format(q=_literal(both), k=_literal(keywords), limit=int(limit), page=int(page))
    rows = await r.fetch(sql, today)
    if not rows:
        return Found([], 0)
    n1, n2 = int(rows[0]["n1"]), int(rows[0]["n2"])
    ids = [int(i) for i in rows[0]["ids"]]
    # Past the cap, or (with keywords) when the pages are full, more posts may match than were read.
    capped = n1 >= CANDIDATES if keywords is None else n1 + n2 >= limit
    return Found(ids[:limit], n1 + n2, capped, [PostRow(*row[3:]) for row in rows])


_BY_ID = f"SELECT {_COLUMNS} FROM internship_posts WHERE id = ANY($1::bigint[])"


async def posts_by_id(r: Reads, ids: Sequence[int]) -> list[PostRow]:
    """The posts with these ids, in the order given (missing ones left out)."""
    if not ids:
        return []
    found = {row["id"]: PostRow(*row) for row in await r.fetch(_BY_ID, list(ids))}
    return [found[i] for i in ids if i in found]


async def any_post_has(r: Reads, keywords: str) -> bool:
    """Whether any post, open or not, has these words: are they words of this programme at all?"""
    sql = f"SELECT EXISTS (SELECT 1 FROM internship_posts WHERE search @@ CAST({_literal(keywords)} AS tsquery))"
    return bool((await r.fetch(sql))[0][0])


async def post_count(s: AsyncSession) -> int:
    return int((await s.execute(text("SELECT count(*) FROM internship_posts"))).scalar_one())
