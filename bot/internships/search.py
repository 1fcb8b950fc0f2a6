"""The one search function: the chat, the subscriptions' matching and ``bench.search`` all call it.

``Searcher.find(session, text, today)`` understands the text (filters, keywords, traditional
characters), asks PostgreSQL for every keyword at once and, when no post has them all, for any
of them (ranked: posts with more of the words come first).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import Content
from bot.db import driver
from bot.db.internships import posts
from bot.db.internships.posts import Filters, Found, Reads
from bot.internships.index import facets, tsquery
from bot.internships.understand import Query, Understander
from bot.internships.vocab import load_vocabulary
from bot.text import Analyzer

#: Result ids kept for paging: ten pages of five.
RESULT_LIMIT = 50


@dataclass(slots=True, frozen=True)
class Result:
    query: Query
    found: Found
    #: True when no post had every keyword and these are posts with some of them.
    relaxed: bool = False


def filters_of(query: Query) -> Filters:
    return Filters(query.street, query.industry, query.season, query.hmt_round, query.paid)


def facets_of_query(query: Query) -> list[str]:
    return facets(query.street, query.industry, query.season, query.hmt_round, query.paid)


async def _reads(s: Reads | AsyncSession) -> Reads:
    """A session's reads run on its connection, in its transaction; anything else as it is."""
    return await driver(s) if isinstance(s, AsyncSession) else s


class Searcher:
    def __init__(self, analyzer: Analyzer, content: Content) -> None:
        self.analyzer = analyzer
        self.understand = Understander(analyzer, load_vocabulary(content), frozenset(content.synonyms))

    async def find(self, s: Reads | AsyncSession, text: str, today: date, limit: int = RESULT_LIMIT) -> Result:
        return await self.run(s, self.understand(text), today, limit)

    async def run(
        self, s: Reads | AsyncSession, query: Query, today: date, limit: int = RESULT_LIMIT, *, relax: bool = True
    ) -> Result:
        """Posts with all of the query's words; none, and ``relax``: those with any of them (``relaxed``)."""
        s = await _reads(s)
        must = facets_of_query(query)
        found = await posts.search(s, tsquery(query.groups) or None, tsquery((), facets=must) or None, today, limit)
        if found.total or not relax:
            return Result(query, found)
        return await self.loosen(s, query, today, limit) or Result(query, found)

    async def loosen(
        self, s: Reads | AsyncSession, query: Query, today: date, limit: int = RESULT_LIMIT
    ) -> Result | None:
        """When no post has all of several words: the posts with any of them (``relaxed`` if some
        have); None for a query of one word, which has nothing to loosen."""
        if len(query.groups) < 2:
            return None
        keywords = tsquery(query.groups, any_group=True)
        found = await posts.search(
            await _reads(s), keywords, tsquery((), facets=facets_of_query(query)) or None, today, limit
        )
        return Result(query, found, relaxed=bool(found.total))

    async def knows(self, s: Reads | AsyncSession, query: Query) -> bool:
        """Whether some post, open or closed, has any of the query's words."""
        keywords = tsquery(query.groups, any_group=True)
        return bool(keywords) and await posts.any_post_has(await _reads(s), keywords)

    async def count(self, s: Reads | AsyncSession, query: Query, today: date) -> int:
        """How many posts match (at most ``posts.CANDIDATES``, then "more")."""
        found = await posts.search(
            await _reads(s),
            tsquery(query.groups) or None,
            tsquery((), facets=facets_of_query(query)) or None,
            today,
            posts.CANDIDATES,
        )
        return found.total
