"""Finding projects and signing up: search by street, date or distance, details, signups, locations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Subquery, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.volunteer.rules import EARTH_RADIUS_M, bounding_box
from bot.db.volunteer.tables import CheckIn, LastLocation, Project, Shift, Signup, Team

#: At most this many hits are kept for paging: a chat list, not a catalogue.
MAX_HITS = 30


@dataclass(slots=True, frozen=True)
class Hit:
    project_id: int
    title: str
    street: str
    next_start: datetime
    distance_m: float | None = None


@dataclass(slots=True, frozen=True)
class ShiftView:
    id: int
    starts_at: datetime
    ends_at: datetime
    seats_left: int


@dataclass(slots=True, frozen=True)
class ProjectView:
    id: int
    title: str
    team: str
    street: str
    place: str
    bring: str
    summary: str
    shifts: list[ShiftView]


#: How long ago a shift still under way at ``since`` may have started (no shift runs longer): the
#: bound keeps the search on the start index.
LONGEST_SHIFT = timedelta(hours=24)


def _upcoming(since: datetime, until: datetime) -> Subquery:
    """Each project's first shift under way at ``since`` or starting in [since, until): the subquery
    the searches share. ``next_start`` before ``since`` means the shift is under way (walk-ins
    check in to it on the spot)."""
    return (
        select(Shift.project_id, func.min(Shift.starts_at).label("next_start"))
        .where(Shift.starts_at >= since - LONGEST_SHIFT, Shift.starts_at < until, Shift.ends_at > since)
        .group_by(Shift.project_id)
        .subquery()
    )


async def search(
    s: AsyncSession, *, since: datetime, until: datetime, street: str | None = None, limit: int = MAX_HITS
) -> list[Hit]:
    """Projects with a shift starting in [since, until), soonest first; in ``street`` if given."""
    nxt = _upcoming(since, until)
    stmt = select(Project.id, Project.title, Project.street, nxt.c.next_start).join(nxt, nxt.c.project_id == Project.id)
    if street:
        stmt = stmt.where(Project.street == street)
    rows = await s.execute(stmt.order_by(nxt.c.next_start, Project.id).limit(limit))
    return [Hit(r.id, r.title, r.street, r.next_start) for r in rows]


async def nearby(
    s: AsyncSession, lat: float, lng: float, radius_m: float, *, since: datetime, until: datetime, limit: int = MAX_HITS
) -> list[Hit]:
    """Projects within ``radius_m`` of a point with an upcoming shift, nearest first.

    The bounding box (on the (latitude, longitude) index) narrows the rows; the haversine
    distance, computed in SQL, orders and trims them to the circle.
    """
    min_lat, max_lat, min_lng, max_lng = bounding_box(lat, lng, radius_m)
    nxt = _upcoming(since, until)
    distance = (
        2
        * EARTH_RADIUS_M
        * func.asin(
            func.least(
                1.0,
                func.sqrt(
                    func.power(func.sin(func.radians(Project.latitude - lat) / 2), 2)
                    + func.cos(func.radians(lat))
                    * func.cos(func.radians(Project.latitude))
                    * func.power(func.sin(func.radians(Project.longitude - lng) / 2), 2)
                ),
            )
        )
    ).label("distance")
    inner = (
        select(Project.id, Project.title, Project.street, nxt.c.next_start, distance)
        .join(nxt, nxt.c.project_id == Project.id)
        .where(Project.latitude.between(min_lat, max_lat), Project.longitude.between(min_lng, max_lng))
        .subquery()
    )
    rows = await s.execute(
        select(inner).where(inner.c.distance <= radius_m).order_by(inner.c.distance, inner.c.id).limit(limit)
    )
    return [Hit(r.id, r.title, r.street, r.next_start, float(r.distance)) for r in rows]


async def detail(s: AsyncSession, project_id: int, now: datetime, *, shifts: int = 5) -> ProjectView | None:
    """The project, its team and its next shifts that have not ended, with seats left."""
    row = (
        await s.execute(
            select(Project, Team.name).join(Team, Team.id == Project.team_id).where(Project.id == project_id)
        )
    ).first()
    if row is None:
        return None
    project, team = row
    found = await s.execute(
        select(Shift.id, Shift.starts_at, Shift.ends_at, (Shift.seats - Shift.taken).label("left"))
        .where(Shift.project_id == project_id, Shift.ends_at > now)
        .order_by(Shift.starts_at)
        .limit(shifts)
    )
    views = [ShiftView(r.id, r.starts_at, r.ends_at, int(r.left)) for r in found]
    return ProjectView(
        project.id, project.title, team, project.street, project.place, project.bring, project.summary, views
    )


class _Undo(Exception):
    """Raised inside a savepoint to undo its writes; carries the outcome to report."""

    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


async def sign_up(s: AsyncSession, user_id: int, shift_id: int, now: datetime) -> str:
    """ "ok", "already", "full" or "started". The seat and the signup are taken together or not at all:
    the seat by a conditional UPDATE (CHECK taken <= seats), the signup by the partial unique index."""
    try:
        async with s.begin_nested():
            seat = await s.execute(
                update(Shift)
                .where(Shift.id == shift_id, Shift.starts_at > now, Shift.taken < Shift.seats)
                .values(taken=Shift.taken + 1)
                .returning(Shift.id)
            )
            if seat.first() is None:
                starts = await s.scalar(select(Shift.starts_at).where(Shift.id == shift_id))
                raise _Undo("started" if starts is None or starts <= now else "full")
            made = await s.execute(
                insert(Signup)
                .values(shift_id=shift_id, user_id=user_id, created_at=now)
                .on_conflict_do_nothing(
                    index_elements=["shift_id", "user_id"], index_where=text("cancelled_at IS NULL")
                )
                .returning(Signup.id)
            )
            if made.first() is None:
                raise _Undo("already")
    except _Undo as undo:
        return undo.outcome
    return "ok"


@dataclass(slots=True, frozen=True)
class MySignup:
    signup_id: int
    title: str
    starts_at: datetime
    ends_at: datetime


async def my_signups(s: AsyncSession, user_id: int, now: datetime, limit: int = 10) -> list[MySignup]:
    """Live signups for shifts that have not started and not been checked in to, soonest first."""
    rows = await s.execute(
        select(Signup.id, Project.title, Shift.starts_at, Shift.ends_at)
        .join(Shift, Shift.id == Signup.shift_id)
        .join(Project, Project.id == Shift.project_id)
        .where(Signup.user_id == user_id, Signup.cancelled_at.is_(None), Shift.starts_at > now)
        .where(~select(CheckIn.id).where(CheckIn.shift_id == Signup.shift_id, CheckIn.user_id == user_id).exists())
        .order_by(Shift.starts_at)
        .limit(limit)
    )
    return [MySignup(r.id, r.title, r.starts_at, r.ends_at) for r in rows]


async def cancel(s: AsyncSession, user_id: int, signup_id: int, now: datetime) -> str:
    """ "ok", "gone" (already cancelled or not theirs), "started" or "checked_in"; frees the seat."""
    row = (
        await s.execute(
            select(Signup.shift_id, Shift.starts_at)
            .join(Shift, Shift.id == Signup.shift_id)
            .where(Signup.id == signup_id, Signup.user_id == user_id, Signup.cancelled_at.is_(None))
            .with_for_update(of=Signup)
        )
    ).first()
    if row is None:
        return "gone"
    if row.starts_at <= now:
        return "started"
    here = await s.scalar(select(CheckIn.id).where(CheckIn.shift_id == row.shift_id, CheckIn.user_id == user_id))
    if here is not None:
        return "checked_in"
    await s.execute(update(Signup).where(Signup.id == signup_id).values(cancelled_at=now))
    await s.execute(update(Shift).where(Shift.id == row.shift_id).values(taken=Shift.taken - 1))
    return "ok"


async def save_location(s: AsyncSession, user_id: int, lat: float, lng: float, at: datetime) -> None:
    stmt = insert(LastLocation).values(user_id=user_id, latitude=lat, longitude=lng, at=at)
    await s.execute(
        stmt.on_conflict_do_update(
            index_elements=["user_id"],
            set_={"latitude": stmt.excluded.latitude, "longitude": stmt.excluded.longitude, "at": stmt.excluded.at},
            # A late-delivered older report never replaces a newer one.
            where=LastLocation.at <= stmt.excluded.at,
        )
    )


async def recent_location(s: AsyncSession, user_id: int, since: datetime) -> tuple[float, float] | None:
    row = (
        await s.execute(
            select(LastLocation.latitude, LastLocation.longitude).where(
                LastLocation.user_id == user_id, LastLocation.at >= since
            )
        )
    ).first()
    return (row.latitude, row.longitude) if row else None
