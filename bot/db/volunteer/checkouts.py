"""Check-outs: closing a check-in (by the volunteer, or by the job at the shift's end) and its ledger entry.

A check-in is closed once (a conditional UPDATE on ``checked_out_at IS NULL``) and its service
entry written once (a partial unique index on the ledger), however many deliveries or job runs
try. Hours are the real times clipped to the shift, rounded by the rule in settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.volunteer.checkins import Outcome, Result, Rules, ShiftInfo, open_checkin, shift_by_id
from bot.db.volunteer.rules import clipped_seconds, round_hours
from bot.db.volunteer.tables import CheckIn, LedgerEntry


@dataclass(slots=True, frozen=True)
class Closed:
    hours: Decimal
    began: datetime
    ended: datetime


async def check_out(s: AsyncSession, user_id: int, now: datetime, *, shift: ShiftInfo | None, rules: Rules) -> Result:
    """Close the open check-in (of ``shift`` if given) and write its ledger entry."""
    found = await open_checkin(s, user_id)
    if found is None or (shift is not None and found[2].id != shift.id):
        if shift is not None:
            done = await s.scalar(
                select(CheckIn.id).where(
                    CheckIn.shift_id == shift.id, CheckIn.user_id == user_id, CheckIn.checked_out_at.is_not(None)
                )
            )
            if done is not None:
                return Result(Outcome.DONE, shift)
        return Result(Outcome.NOT_IN, shift, other=found[2] if found else None)
    checkin_id, checked_in_at, info = found
    closed = await close(s, checkin_id, user_id, info, checked_in_at, now, rules=rules, auto=False)
    if closed is None:
        return Result(Outcome.NOT_IN, info)  # closed meanwhile (the job, a twin delivery)
    return Result(Outcome.CHECKED_OUT, info, now, hours=closed.hours, began=closed.began, ended=closed.ended)


async def close(
    s: AsyncSession,
    checkin_id: int,
    user_id: int,
    shift: ShiftInfo,
    checked_in_at: datetime,
    at: datetime,
    *,
    rules: Rules,
    auto: bool,
    written_at: datetime | None = None,
) -> Closed | None:
    """Close one check-in at ``at`` and append its service entry; None if it was already closed."""
    updated = await s.execute(
        update(CheckIn)
        .where(CheckIn.id == checkin_id, CheckIn.checked_out_at.is_(None))
        .values(checked_out_at=max(at, checked_in_at), auto_closed=auto)
        .returning(CheckIn.id)
    )
    if updated.first() is None:
        return None
    seconds = clipped_seconds(checked_in_at, at, shift.starts_at, shift.ends_at)
    hours = round_hours(seconds, rules.half_hour_from, rules.full_hour_above)
    begin = max(checked_in_at, shift.starts_at)
    end = max(begin, min(at, shift.ends_at))
    await s.execute(
        insert(LedgerEntry)
        .values(
            user_id=user_id,
            kind="service",
            hours=hours,
            checkin_id=checkin_id,
            project_id=shift.project_id,
            served_on=_local_date(shift.starts_at, rules.tz),
            started_at=begin,
            ended_at=end,
            created_at=written_at or at,
        )
        .on_conflict_do_nothing(index_elements=["checkin_id"], index_where=text("kind = 'service'"))
    )
    return Closed(hours, begin, end)


def _local_date(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


@dataclass(slots=True, frozen=True)
class Forgotten:
    checkin_id: int
    user_id: int
    channel: str
    external_id: str
    shift: ShiftInfo
    hours: Decimal


async def close_forgotten(s: AsyncSession, now: datetime, *, rules: Rules, limit: int = 500) -> list[Forgotten]:
    """Close, at their shift's end, up to ``limit`` check-ins whose shift ended without a check-out.

    ``SKIP LOCKED``: a check-out in flight keeps its row, and two runs never take the same one.
    """
    rows = (
        await s.execute(
            text("""
                SELECT c.id, c.user_id, c.checked_in_at, c.shift_id, u.channel, u.external_id
                FROM volunteer_checkins c
                JOIN volunteer_shifts sh ON sh.id = c.shift_id
                JOIN users u ON u.id = c.user_id
                WHERE c.checked_out_at IS NULL AND sh.ends_at <= :now
                ORDER BY sh.ends_at, c.id
                LIMIT :limit
                FOR UPDATE OF c SKIP LOCKED
            """),
            {"now": now, "limit": limit},
        )
    ).all()
    done: list[Forgotten] = []
    for row in rows:
        info = await shift_by_id(s, row.shift_id)
        assert info is not None
        closed = await close(
            s, row.id, row.user_id, info, row.checked_in_at, info.ends_at, rules=rules, auto=True, written_at=now
        )
        if closed is not None:
            done.append(Forgotten(row.id, row.user_id, row.channel, row.external_id, info, closed.hours))
    return done
