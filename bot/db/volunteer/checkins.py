"""Check-in to a shift: who arrives where, the decision, the row; and the organiser's roster.

Every outcome is decided inside one transaction, and what must never happen twice is refused
by the database: a second check-in of the same shift (unique (shift, user)), a second open
check-in anywhere (partial unique index), a walk-in beyond the seats (CHECK taken <= seats).
Check-outs and their ledger entries are ``checkouts``'.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.volunteer.rules import distance_m
from bot.db.volunteer.tables import CheckIn, Project, Shift


class Outcome(enum.StrEnum):
    CHECKED_IN = "checked_in"
    CHECKED_OUT = "checked_out"
    UNKNOWN = "unknown"  # no such code or scene
    OTHER_DAY = "other_day"  # the code is for a shift on another day
    TOO_EARLY = "too_early"  # today, but check-in has not opened yet
    ENDED = "ended"  # the shift is over
    ALREADY_IN = "already_in"  # checked in to this shift and still there
    DONE = "done"  # checked in and out of this shift already
    ELSEWHERE = "elsewhere"  # an open check-in at another shift
    TOO_FAR = "too_far"  # a recent location farther than the project's radius
    FULL = "full"  # a walk-in with no seat left
    NOT_IN = "not_in"  # check-out without an open check-in


@dataclass(slots=True, frozen=True)
class ShiftInfo:
    id: int
    code: str
    project_id: int
    title: str
    place: str
    starts_at: datetime
    ends_at: datetime
    latitude: float
    longitude: float
    radius_m: int


@dataclass(slots=True, frozen=True)
class Result:
    outcome: Outcome
    shift: ShiftInfo | None = None
    at: datetime | None = None
    #: Metres from the site when a recent location was known.
    distance_m: float | None = None
    verified: bool = False
    hours: Decimal | None = None
    #: For ELSEWHERE / NOT_IN: the check-in that is open elsewhere.
    other: ShiftInfo | None = None
    #: For CHECKED_OUT: the served span the hours were computed from (clipped to the shift).
    began: datetime | None = None
    ended: datetime | None = None


@dataclass(slots=True, frozen=True)
class Rules:
    """The settings a check-in obeys (from ``Settings``), passed in so the queries stay pure."""

    opens_before: float
    half_hour_from: int
    full_hour_above: int
    tz: ZoneInfo


#: A shift with the project fields a check-in needs (the columns of ``ShiftInfo``, in order).
_SHIFT = select(
    Shift.id,
    Shift.code,
    Shift.project_id,
    Project.title,
    Project.place,
    Shift.starts_at,
    Shift.ends_at,
    Project.latitude,
    Project.longitude,
    Project.radius_m,
).join(Project, Project.id == Shift.project_id)


async def shift_by_code(s: AsyncSession, code: str) -> ShiftInfo | None:
    row = (await s.execute(_SHIFT.where(Shift.code == code))).first()
    return ShiftInfo(**row._asdict()) if row else None


async def shift_by_id(s: AsyncSession, shift_id: int) -> ShiftInfo | None:
    row = (await s.execute(_SHIFT.where(Shift.id == shift_id))).first()
    return ShiftInfo(**row._asdict()) if row else None


async def open_checkin(s: AsyncSession, user_id: int) -> tuple[int, datetime, ShiftInfo] | None:
    row = (
        await s.execute(
            select(CheckIn.id, CheckIn.checked_in_at, CheckIn.shift_id).where(
                CheckIn.user_id == user_id, CheckIn.checked_out_at.is_(None)
            )
        )
    ).first()
    if row is None:
        return None
    info = await shift_by_id(s, row.shift_id)
    assert info is not None  # a foreign key
    return row.id, row.checked_in_at, info


#: Everything a check-in decides on, in one round trip: the person (created if new, the same
#: upsert as ``bot.db.users.ensure_user``), the shift by its code or id, this shift's own
#: check-in, an open one elsewhere, a live signup, and a location shared since :fresh.
_ARRIVE = text("""
WITH u AS (
  INSERT INTO users (channel, external_id, subscribed, first_scene, first_seen, last_seen, street)
  VALUES (:channel, :openid, TRUE, '', :now, :now, '')
  ON CONFLICT (channel, external_id) DO UPDATE SET last_seen = GREATEST(users.last_seen, excluded.last_seen)
  RETURNING id
), sh AS (
  SELECT s.id, s.code, s.project_id, p.title, p.place, s.starts_at, s.ends_at, p.latitude, p.longitude, p.radius_m
  FROM volunteer_shifts s JOIN volunteer_projects p ON p.id = s.project_id
  WHERE s.code = CAST(:code AS text) OR s.id = CAST(:shift_id AS integer)
  LIMIT 1
)
SELECT u.id AS user_id, sh.id, sh.code, sh.project_id, sh.title, sh.place, sh.starts_at, sh.ends_at,
       sh.latitude, sh.longitude, sh.radius_m,
       mine.checked_in_at AS mine_in, mine.checked_out_at AS mine_out,
       (SELECT shift_id FROM volunteer_checkins WHERE user_id = u.id AND checked_out_at IS NULL) AS open_shift,
       EXISTS (SELECT 1 FROM volunteer_signups
               WHERE shift_id = sh.id AND user_id = u.id AND cancelled_at IS NULL) AS signed_up,
       loc.latitude AS here_lat, loc.longitude AS here_lng
FROM u
LEFT JOIN sh ON TRUE
LEFT JOIN volunteer_checkins mine ON mine.shift_id = sh.id AND mine.user_id = u.id
LEFT JOIN volunteer_locations loc ON loc.user_id = u.id AND loc.at >= :fresh
""")


@dataclass(slots=True, frozen=True)
class Arrival:
    """A volunteer at a site, as ``arrive`` found them: who, which shift, and where they stand."""

    user_id: int
    shift: ShiftInfo | None
    mine_in: datetime | None = None
    mine_out: datetime | None = None
    open_shift: int | None = None
    signed_up: bool = False
    here: tuple[float, float] | None = None


async def arrive(
    s: AsyncSession,
    channel: str,
    external_id: str,
    now: datetime,
    *,
    code: str = "",
    shift_id: int | None = None,
    location_since: datetime,
) -> Arrival:
    row = (
        await s.execute(
            _ARRIVE,
            {
                "channel": channel,
                "openid": external_id,
                "now": now,
                "code": code or None,
                "shift_id": shift_id,
                "fresh": location_since,
            },
        )
    ).one()
    shift = None
    if row.id is not None:
        shift = ShiftInfo(
            row.id,
            row.code,
            row.project_id,
            row.title,
            row.place,
            row.starts_at,
            row.ends_at,
            row.latitude,
            row.longitude,
            row.radius_m,
        )
    here = (row.here_lat, row.here_lng) if row.here_lat is not None else None
    return Arrival(row.user_id, shift, row.mine_in, row.mine_out, row.open_shift, bool(row.signed_up), here)


#: The check-in and, for a walk-in, its seat, in one statement: the shift's row (the one row every
#: walk-in of a large event updates) stays locked only from here to the commit. ON CONFLICT DO
#: NOTHING covers both unique indexes: a concurrent twin, or a concurrent check-in elsewhere.
_CHECK_IN = text("""
WITH ins AS (
  INSERT INTO volunteer_checkins (shift_id, user_id, checked_in_at, via, verified, distance_m, walk_in, auto_closed)
  VALUES (:shift, :user, :now, :via, :verified, :distance, :walk_in, FALSE)
  ON CONFLICT DO NOTHING
  RETURNING id
), seat AS (
  UPDATE volunteer_shifts SET taken = taken + 1
  WHERE id = :shift AND :walk_in AND taken < seats AND EXISTS (SELECT 1 FROM ins)
  RETURNING id
)
SELECT (SELECT id FROM ins) AS checkin_id, (SELECT count(*) FROM seat) AS seated
""")


async def check_in(s: AsyncSession, arrival: Arrival, now: datetime, *, via: str, rules: Rules) -> Result:
    """Check the arriving volunteer in to their shift (found by its code or scene), or say why not.

    This shift's own check-in is looked at first: one still open after the shift's end is
    ALREADY_IN (a scan then checks out), not ENDED. A location shared recently is checked
    against the project's radius.
    """
    shift, user_id = arrival.shift, arrival.user_id
    assert shift is not None
    if arrival.mine_in is not None:
        return Result(Outcome.DONE if arrival.mine_out else Outcome.ALREADY_IN, shift, arrival.mine_in)
    if now >= shift.ends_at:
        return Result(Outcome.ENDED, shift)
    if (shift.starts_at - now).total_seconds() > rules.opens_before:
        today = now.astimezone(rules.tz).date()
        day = shift.starts_at.astimezone(rules.tz).date()
        return Result(Outcome.OTHER_DAY if day != today else Outcome.TOO_EARLY, shift)
    if arrival.open_shift is not None:
        return Result(Outcome.ELSEWHERE, shift, other=await shift_by_id(s, arrival.open_shift))
    metres = None
    if arrival.here is not None:
        metres = distance_m(arrival.here[0], arrival.here[1], shift.latitude, shift.longitude)
        if metres > shift.radius_m:
            return Result(Outcome.TOO_FAR, shift, distance_m=metres)
    walk_in = not arrival.signed_up
    made = (
        await s.execute(
            _CHECK_IN,
            {
                "shift": shift.id,
                "user": user_id,
                "now": now,
                "via": via,
                "verified": metres is not None,
                "distance": round(metres) if metres is not None else None,
                "walk_in": walk_in,
            },
        )
    ).one()
    if made.checkin_id is None:
        # Lost a race: report what the winner left (this shift, or another one).
        return await _explain_conflict(s, user_id, shift)
    if walk_in and not made.seated:
        # No seat left: the check-in goes again, in this same transaction (nobody saw it).
        await s.execute(text("DELETE FROM volunteer_checkins WHERE id = :id"), {"id": made.checkin_id})
        return Result(Outcome.FULL, shift)
    return Result(Outcome.CHECKED_IN, shift, now, metres, metres is not None)


async def _explain_conflict(s: AsyncSession, user_id: int, shift: ShiftInfo) -> Result:
    other = await open_checkin(s, user_id)
    if other is not None and other[2].id != shift.id:
        return Result(Outcome.ELSEWHERE, shift, other=other[2])
    at = other[1] if other else None
    return Result(Outcome.ALREADY_IN if other else Outcome.DONE, shift, at)


def opens_at(shift: ShiftInfo, rules: Rules) -> datetime:
    return shift.starts_at - timedelta(seconds=rules.opens_before)


@dataclass(slots=True, frozen=True)
class RosterLine:
    name: str
    external_id: str
    checked_in_at: datetime
    checked_out_at: datetime | None
    verified: bool
    distance_m: int | None
    walk_in: bool
    auto_closed: bool


async def roster(s: AsyncSession, shift_id: int) -> list[RosterLine]:
    """Who checked in to a shift, in order, and whether their location was verified: the organiser's view."""
    rows = await s.execute(
        text("""
            SELECT COALESCE(v.name, '') AS name, u.external_id, c.checked_in_at, c.checked_out_at, c.verified,
                   c.distance_m, c.walk_in, c.auto_closed
            FROM volunteer_checkins c
            JOIN users u ON u.id = c.user_id
            LEFT JOIN volunteer_profiles v ON v.user_id = c.user_id
            WHERE c.shift_id = :shift
            ORDER BY c.checked_in_at, c.id
        """),
        {"shift": shift_id},
    )
    return [RosterLine(*r) for r in rows]
