"""Episodes (期): loading them, and which one is this week's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Executable, literal_column, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.study.tables import StudyEpisode


@dataclass(slots=True, frozen=True)
class Episode:
    id: int
    number: int
    title: str
    link: str
    opens_at: datetime
    closes_at: datetime

    def is_open(self, now: datetime) -> bool:
        return self.opens_at <= now < self.closes_at


def _episode(row: StudyEpisode) -> Episode:
    return Episode(row.id, row.number, row.title, row.link, row.opens_at, row.closes_at)


async def upsert(s: AsyncSession, number: int, title: str, link: str, opens: datetime, closes: datetime) -> bool:
    """Add the episode, or correct the one with this number; True when it was new."""
    stmt: Executable = (
        insert(StudyEpisode)
        .values(number=number, title=title, link=link, opens_at=opens, closes_at=closes)
        .on_conflict_do_update(
            index_elements=["number"],
            set_={"title": title, "link": link, "opens_at": opens, "closes_at": closes},
        )
        .returning(literal_column("xmax = 0"))  # PostgreSQL: a row just inserted has no xmax
    )
    return bool((await s.execute(stmt)).scalar_one())


async def current(s: AsyncSession, now: datetime) -> Episode | None:
    """The latest episode that has opened (it may have closed: the caller says so)."""
    row = (
        await s.execute(
            select(StudyEpisode)
            .where(StudyEpisode.opens_at <= now)
            .order_by(StudyEpisode.opens_at.desc(), StudyEpisode.number.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return _episode(row) if row is not None else None


async def by_number(s: AsyncSession, number: int) -> Episode | None:
    row = (await s.execute(select(StudyEpisode).where(StudyEpisode.number == number))).scalar_one_or_none()
    return _episode(row) if row is not None else None


async def recent(s: AsyncSession, now: datetime, count: int, *, up_to: int | None = None) -> list[Episode]:
    """The last ``count`` episodes that have opened (up to number ``up_to``), oldest first."""
    stmt = select(StudyEpisode).where(StudyEpisode.opens_at <= now)
    if up_to is not None:
        stmt = stmt.where(StudyEpisode.number <= up_to)
    rows = (await s.execute(stmt.order_by(StudyEpisode.number.desc()).limit(count))).scalars().all()
    return [_episode(r) for r in reversed(rows)]


async def all_episodes(s: AsyncSession) -> list[Episode]:
    rows = (await s.execute(select(StudyEpisode).order_by(StudyEpisode.number))).scalars().all()
    return [_episode(r) for r in rows]
