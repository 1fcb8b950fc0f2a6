"""Teams, projects and shifts written in bulk (the import and the demo): keyed so a rerun changes nothing."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.volunteer.tables import CheckIn, Project, Shift, Team


@dataclass(slots=True, frozen=True)
class TeamRow:
    code: str
    name: str
    street: str


@dataclass(slots=True, frozen=True)
class ProjectRow:
    code: str
    team: str
    title: str
    street: str
    place: str
    latitude: float
    longitude: float
    radius_m: int
    bring: str
    summary: str


@dataclass(slots=True, frozen=True)
class ShiftRow:
    project: str
    starts_at: datetime
    ends_at: datetime
    seats: int


async def _free_codes(s: AsyncSession, n: int) -> list[str]:
    """``n`` six-digit codes no shift uses: random, so a poster's code tells nothing of its neighbours'."""
    codes: set[str] = set()
    while len(codes) < n:
        wanted = {f"{secrets.randbelow(900_000) + 100_000}" for _ in range(n - len(codes))}
        taken = set((await s.scalars(select(Shift.code).where(Shift.code.in_(wanted)))).all())
        codes |= wanted - taken
    return sorted(codes)


async def upsert(
    s: AsyncSession, teams: Iterable[TeamRow], projects: Iterable[ProjectRow], shifts: Iterable[ShiftRow]
) -> dict[str, int]:
    """Teams by code, projects by code, shifts by (project, start): new rows added, known ones updated.

    A shift's code is given once, when it is created; seats never drop below the seats taken.
    """
    teams, projects, shifts = list(teams), list(projects), list(shifts)
    if teams:
        stmt = insert(Team).values([vars_of(t) for t in teams])
        await s.execute(
            stmt.on_conflict_do_update(
                index_elements=["code"], set_={"name": stmt.excluded.name, "street": stmt.excluded.street}
            )
        )
    team_ids = {code: id_ for code, id_ in await s.execute(select(Team.code, Team.id))}
    if projects:
        values = []
        for p in projects:
            row = vars_of(p)
            row["team_id"] = team_ids[p.team]
            del row["team"]
            values.append(row)
        stmt = insert(Project).values(values)
        await s.execute(
            stmt.on_conflict_do_update(
                index_elements=["code"],
                set_={c: stmt.excluded[c] for c in values[0] if c != "code"},
            )
        )
    wanted = {sh.project for sh in shifts}
    project_ids = {
        code: id_ for code, id_ in await s.execute(select(Project.code, Project.id).where(Project.code.in_(wanted)))
    }
    if shifts:
        codes = await _free_codes(s, len(shifts))
        stmt = insert(Shift).values(
            [
                {
                    "project_id": project_ids[sh.project],
                    "code": code,
                    "starts_at": sh.starts_at,
                    "ends_at": sh.ends_at,
                    "seats": sh.seats,
                    "taken": 0,
                }
                for sh, code in zip(shifts, codes, strict=True)
            ]
        )
        await s.execute(
            stmt.on_conflict_do_update(
                index_elements=["project_id", "starts_at"],
                set_={"ends_at": stmt.excluded.ends_at, "seats": func.greatest(stmt.excluded.seats, Shift.taken)},
            )
        )
    return {"teams": len(teams), "projects": len(projects), "shifts": len(shifts)}


async def put_coded_shift(
    s: AsyncSession, project: str, code: str, starts_at: datetime, ends_at: datetime, seats: int
) -> None:
    """The shift with check-in code ``code`` made to run from ``starts_at`` (the demo's try-it-now
    shift, placed relative to each load). One that already served someone keeps its history under
    a new code; one nobody checked in to is moved."""
    project_id = await s.scalar(select(Project.id).where(Project.code == project))
    if project_id is None:
        raise LookupError(f"no project {project!r}")
    found = await s.scalar(select(Shift).where(Shift.code == code).with_for_update())
    if found is not None:
        served = await s.scalar(select(func.count()).select_from(CheckIn).where(CheckIn.shift_id == found.id))
        if not served:
            found.project_id, found.starts_at, found.ends_at = project_id, starts_at, ends_at
            found.seats = max(seats, found.taken)
            return
        [found.code] = await _free_codes(s, 1)
        await s.flush()
    s.add(Shift(project_id=project_id, code=code, starts_at=starts_at, ends_at=ends_at, seats=seats, taken=0))


def vars_of(row: TeamRow | ProjectRow) -> dict[str, object]:
    return dataclasses.asdict(row)
