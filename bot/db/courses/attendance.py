"""Attendance: check-in of a signed-up person or a walk-in, no-shows after a class, the no-show block."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.courses.signups import lock_class


@dataclass(slots=True, frozen=True)
class CheckIn:
    """``status``: checked_in, walk_in, already, full (no seat for a walk-in)."""

    status: str
    signup_id: int = 0


_CHECK_IN = text("""
WITH up AS (UPDATE course_signups SET status = 'attended', checked_in_at = :at, updated_at = :at
            WHERE class_id = :c AND user_id = :u AND status = 'confirmed' RETURNING id),
     ev AS (INSERT INTO course_signup_events (signup_id, kind, cause, at) SELECT id, 'checked_in', :cause, :at FROM up)
SELECT id FROM up
""")

#: A person in the room without a seat: a waitlist place becomes the seat, or a new walk-in signup.
_WALK_IN = text("""
WITH seated AS (SELECT count(*) AS n FROM course_signups WHERE class_id = :c AND status IN ('confirmed', 'attended')),
     waiting AS (UPDATE course_signups SET status = 'attended', walk_in = TRUE, checked_in_at = :at, updated_at = :at
                 WHERE class_id = :c AND user_id = :u AND status = 'waitlisted'
                   AND (SELECT n FROM seated) < :capacity
                 RETURNING id),
     fresh AS (INSERT INTO course_signups (class_id, user_id, status, walk_in, created_at, updated_at, checked_in_at)
               SELECT :c, :u, 'attended', TRUE, :at, :at, :at FROM seated
               WHERE seated.n < :capacity AND NOT EXISTS (SELECT 1 FROM waiting)
               ON CONFLICT (class_id, user_id) WHERE status <> 'cancelled' DO NOTHING
               RETURNING id),
     ev AS (INSERT INTO course_signup_events (signup_id, kind, cause, at)
            SELECT id, 'walk_in', :cause, :at FROM (SELECT id FROM waiting UNION ALL SELECT id FROM fresh) w)
SELECT id FROM waiting UNION ALL SELECT id FROM fresh
""")


async def check_in(s: AsyncSession, class_id: int, user_id: int, at: datetime, cause: str) -> CheckIn | None:
    """Check in the person's seat (the caller checked the window); None when they hold no seat here."""
    row = (await s.execute(_CHECK_IN, {"c": class_id, "u": user_id, "at": at, "cause": cause})).first()
    if row is not None:
        return CheckIn("checked_in", row.id)
    done = (
        await s.execute(
            text(
                "SELECT id FROM course_signups WHERE class_id = :c AND user_id = :u"
                " AND status IN ('attended', 'no_show')"
            ),
            {"c": class_id, "u": user_id},
        )
    ).first()
    return CheckIn("already", done.id) if done is not None else None


async def walk_in(s: AsyncSession, class_id: int, user_id: int, at: datetime, cause: str) -> CheckIn:
    """A person in the room without a seat takes a free one (their waitlist place, or a new signup)."""
    cls = await lock_class(s, class_id)
    if cls is None:
        return CheckIn("full")
    row = (
        await s.execute(_WALK_IN, {"c": class_id, "u": user_id, "at": at, "cause": cause, "capacity": cls.capacity})
    ).first()
    return CheckIn("walk_in", row.id) if row is not None else CheckIn("full")


@dataclass(slots=True, frozen=True)
class Elsewhere:
    """A class the person holds a seat in whose check-in window is open now."""

    class_id: int
    title: str
    venue: str


async def seated_elsewhere(
    s: AsyncSession, user_id: int, class_id: int, at: datetime, before: int, after: int
) -> Elsewhere | None:
    row = (
        await s.execute(
            text("""
            SELECT c.id, c.title, c.venue FROM course_signups s JOIN course_classes c ON c.id = s.class_id
            WHERE s.user_id = :u AND s.status = 'confirmed' AND c.id <> :c AND c.status = 'open'
              AND c.starts_at - make_interval(secs => :before) <= :at
              AND :at <= c.starts_at + make_interval(secs => :after)
            ORDER BY c.starts_at LIMIT 1
            """),
            {"u": user_id, "c": class_id, "at": at, "before": before, "after": after},
        )
    ).first()
    return Elsewhere(row.id, row.title, row.venue) if row is not None else None


_NO_SHOWS = text("""
WITH up AS (UPDATE course_signups s SET status = 'no_show', updated_at = :now
            FROM course_classes c
            WHERE c.id = s.class_id AND c.status = 'open' AND c.ends_at <= :now AND s.status = 'confirmed'
            RETURNING s.id),
     ev AS (INSERT INTO course_signup_events (signup_id, kind, cause, at) SELECT id, 'no_show', 'job', :now FROM up)
SELECT count(*) FROM up
""")


async def mark_no_shows(s: AsyncSession, now: datetime) -> int:
    """Confirmed seats of ended classes without a check-in become no-shows; each once (a status change)."""
    return int((await s.execute(_NO_SHOWS, {"now": now})).scalar_one())


async def blocked_until(
    s: AsyncSession, user_id: int, now: datetime, *, limit: int, window_days: int, block_days: int
) -> datetime | None:
    """When the person's no-show block ends, or None: ``limit`` no-shows within ``window_days`` block
    new signups for ``block_days`` from the last of them. Classes the organiser cancelled never count."""
    rows = await s.execute(
        text("""
        SELECT c.starts_at FROM course_signups s JOIN course_classes c ON c.id = s.class_id
        WHERE s.user_id = :u AND s.status = 'no_show' AND c.status = 'open' AND c.starts_at > :since
        ORDER BY c.starts_at
        """),
        {"u": user_id, "since": block_since(now, window_days, block_days)},
    )
    return block_end([r.starts_at for r in rows], now, limit=limit, window_days=window_days, block_days=block_days)


def block_since(now: datetime, window_days: int, block_days: int) -> datetime:
    """No-shows before this cannot block anyone any more."""
    return now - timedelta(days=window_days + block_days)


def block_end(
    times: Sequence[datetime], now: datetime, *, limit: int, window_days: int, block_days: int
) -> datetime | None:
    """The end of the block that no-shows at ``times`` (ascending) impose at ``now``, or None."""
    window, block = timedelta(days=window_days), timedelta(days=block_days)
    ends = [
        times[i] + block
        for i in range(limit - 1, len(times))
        if times[i] - times[i - limit + 1] <= window and times[i] + block > now
    ]
    return max(ends) if ends else None
