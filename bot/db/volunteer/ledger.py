"""The hours ledger: a person's totals (always derived from the entries), corrections, the export.

Entries are only ever inserted (a trigger refuses UPDATE and DELETE); a correction is an entry
of kind ``correction`` with its hours (negative to take some away), reason and author. Totals
are sums over the entries, so they cannot disagree with them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import cast

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import Database, batch
from bot.db.models import User
from bot.db.volunteer.tables import LedgerEntry, Project, Team, Volunteer

#: 「我的时长」 for several people in one round trip (``Database.batcher``: the people who ask in the
#: same event-loop turn): each person found by their channel id, the sums over their entries and
#: their last few lines (LEFT JOIN: the sums come back even without lines, or without a person),
#: and the project they are checked in to now, if any (at most one: ``uq_vci_open``).
#: asyncpg's $n parameters: it runs on the driver's connection (``Database.fetch``). The people
#: come as a VALUES list (``bot.db.batch.values_list``), one statement per size.
_SUMMARIES = """
WITH q(n, channel, external_id, year_start, recent) AS (VALUES {rows})
SELECT q.n, t.total, t.this_year, t.services, o.serving, r.served_on, r.hours, r.kind, r.title
FROM q LEFT JOIN users u ON u.channel = q.channel AND u.external_id = q.external_id
CROSS JOIN LATERAL (
  SELECT COALESCE(SUM(l.hours), 0) AS total,
         COALESCE(SUM(l.hours) FILTER (WHERE l.served_on >= q.year_start), 0) AS this_year,
         COUNT(*) FILTER (WHERE l.kind = 'service') AS services
  FROM volunteer_ledger l WHERE l.user_id = u.id
) t
LEFT JOIN LATERAL (
  SELECT p.title AS serving
  FROM volunteer_checkins c
  JOIN volunteer_shifts sh ON sh.id = c.shift_id
  JOIN volunteer_projects p ON p.id = sh.project_id
  WHERE c.user_id = u.id AND c.checked_out_at IS NULL
) o ON TRUE
LEFT JOIN LATERAL (
  SELECT l.served_on, l.hours, l.kind, p.title, l.id
  FROM volunteer_ledger l LEFT JOIN volunteer_projects p ON p.id = l.project_id
  WHERE l.user_id = u.id
  ORDER BY l.served_on DESC, l.id DESC
  LIMIT q.recent
) r ON TRUE
ORDER BY q.n, r.served_on DESC, r.id DESC
"""

_SUMMARIES_SQL = {
    size: _SUMMARIES.format(rows=batch.values_list(size, ("varchar", "varchar", "date", "int"))) for size in batch.SIZES
}
#: A row that matches nobody (no user has a NULL channel id), to fill a statement to its size.
_NOBODY = (None, None, date(2000, 1, 1), 0)

_USER_ID = text("SELECT id FROM users WHERE channel = :channel AND external_id = :external_id")


@dataclass(slots=True, frozen=True)
class Line:
    served_on: date
    hours: Decimal
    kind: str
    title: str


@dataclass(slots=True, frozen=True)
class Summary:
    total: Decimal
    this_year: Decimal
    services: int
    recent: list[Line]
    #: The project of the check-in still open (its hours come at check-out), or None.
    serving: str | None = None


async def user_id_of(s: AsyncSession, channel: str, external_id: str) -> int | None:
    """A person's ``users.id`` without writing (a read-only answer needs no row created)."""
    found = await s.scalar(_USER_ID, {"channel": channel, "external_id": external_id})
    return int(found) if found is not None else None


#: Who asks: channel, channel id, the first day of "this year", how many recent lines.
SummaryKey = tuple[str, str, date, int]


async def summary(db: Database, channel: str, external_id: str, year_start: date, recent: int = 3) -> Summary:
    """Totals (all time, this year), the number of services and the last ``recent`` lines; one read,
    shared with whoever else asks in the same moment."""
    batcher = db.batcher("volunteer.ledger.summary", summaries)
    return await batcher.get((channel, external_id, year_start, recent))


async def summaries(db: Database, keys: Sequence[SummaryKey]) -> dict[SummaryKey, Summary]:
    """``summary`` for each of ``keys``: one statement for up to 32 of them."""
    found: dict[SummaryKey, Summary] = {}
    for size, chunk, args in batch.chunks(keys, cast(SummaryKey, _NOBODY)):
        lines: dict[int, list[Line]] = {}
        for r in await db.fetch(_SUMMARIES_SQL[size], *args):
            n = r["n"] - 1
            if n >= len(chunk):
                continue
            mine = lines.get(n)
            if mine is None:
                mine = lines[n] = []
                found[chunk[n]] = Summary(
                    Decimal(r["total"]), Decimal(r["this_year"]), int(r["services"]), mine, r["serving"]
                )
            if r["served_on"] is not None:
                mine.append(Line(r["served_on"], Decimal(r["hours"]), r["kind"], r["title"] or ""))
    return found


async def total_hours(s: AsyncSession, user_id: int) -> Decimal:
    total = await s.scalar(select(func.coalesce(func.sum(LedgerEntry.hours), 0)).where(LedgerEntry.user_id == user_id))
    return Decimal(total or 0)


async def correct(
    s: AsyncSession,
    user_id: int,
    hours: Decimal,
    *,
    reason: str,
    author: str,
    now: datetime,
    served_on: date,
    corrects_id: int | None = None,
) -> int:
    """Append a correction; returns its id. ``corrects_id`` names the entry it amends (same person)."""
    project_id = None
    if corrects_id is not None:
        target = (
            await s.execute(select(LedgerEntry.user_id, LedgerEntry.project_id).where(LedgerEntry.id == corrects_id))
        ).first()
        if target is None or target.user_id != user_id:
            raise ValueError(f"时长记录 #{corrects_id} 不是这位志愿者的")
        project_id = target.project_id
    entry = LedgerEntry(
        user_id=user_id,
        kind="correction",
        hours=hours,
        project_id=project_id,
        served_on=served_on,
        reason=reason,
        author=author,
        corrects_id=corrects_id,
        created_at=now,
    )
    s.add(entry)
    await s.flush()
    return int(entry.id)


async def entries(s: AsyncSession, user_id: int) -> list[LedgerEntry]:
    """Every entry of a person, oldest first: the audit view."""
    return list(
        (await s.scalars(select(LedgerEntry).where(LedgerEntry.user_id == user_id).order_by(LedgerEntry.id))).all()
    )


@dataclass(slots=True, frozen=True)
class ExportRow:
    name: str
    id_masked: str
    id_sealed: str
    project: str
    organiser: str
    served_on: date
    started_at: datetime | None
    ended_at: datetime | None
    hours: Decimal
    kind: str
    reason: str


def _export_query(since: date, until: date, team: str | None):  # type: ignore[no-untyped-def]
    stmt = (
        select(
            func.coalesce(Volunteer.name, "").label("name"),
            func.coalesce(Volunteer.id_masked, "").label("id_masked"),
            func.coalesce(Volunteer.id_sealed, "").label("id_sealed"),
            func.coalesce(Project.title, "").label("project"),
            func.coalesce(Team.name, "").label("organiser"),
            LedgerEntry.served_on,
            LedgerEntry.started_at,
            LedgerEntry.ended_at,
            LedgerEntry.hours,
            LedgerEntry.kind,
            LedgerEntry.reason,
        )
        .select_from(LedgerEntry)
        .join(User, User.id == LedgerEntry.user_id)
        .outerjoin(Volunteer, Volunteer.user_id == LedgerEntry.user_id)
        .outerjoin(Project, Project.id == LedgerEntry.project_id)
        .outerjoin(Team, Team.id == Project.team_id)
        .where(LedgerEntry.served_on >= since, LedgerEntry.served_on <= until)
    )
    if team:
        stmt = stmt.where(Team.code == team)
    return stmt


async def export_count(s: AsyncSession, since: date, until: date, team: str | None) -> int:
    sub = _export_query(since, until, team).subquery()
    return int(await s.scalar(select(func.count()).select_from(sub)) or 0)


async def export_rows(
    s: AsyncSession, since: date, until: date, team: str | None, batch: int = 2000
) -> AsyncIterator[ExportRow]:
    """The ledger lines served in [since, until], streamed from a server-side cursor (constant memory)."""
    stmt = _export_query(since, until, team).order_by(LedgerEntry.served_on, LedgerEntry.id)
    result = await s.stream(stmt.execution_options(yield_per=batch))
    async for row in result:
        yield ExportRow(*row)
