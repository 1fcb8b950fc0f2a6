"""The organisation: district → street committee (团工委) → branch, loaded from the League's CSV."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Executable, literal_column, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.study.tables import StudyBranch, StudyOrg


@dataclass(slots=True, frozen=True)
class BranchRow:
    district: str
    street: str
    org: str
    code: str
    name: str
    members: int


@dataclass(slots=True, frozen=True)
class Loaded:
    added: int
    updated: int
    unchanged: int


async def load(s: AsyncSession, rows: Sequence[BranchRow]) -> Loaded:
    """Add or correct every branch (keyed by code) and its street committee; the same file again changes nothing."""
    orgs: dict[tuple[str, str], str] = {}
    for r in rows:
        orgs.setdefault((r.district, r.street), r.org)
    if orgs:
        add_orgs = insert(StudyOrg).values([{"district": d, "street": st, "name": n} for (d, st), n in orgs.items()])
        await s.execute(
            add_orgs.on_conflict_do_update(
                constraint="uq_study_orgs_district_street",
                set_={"name": add_orgs.excluded.name},
                where=StudyOrg.name.is_distinct_from(add_orgs.excluded.name),
            )
        )
    ids = {(d, st): i for i, d, st in await s.execute(select(StudyOrg.id, StudyOrg.district, StudyOrg.street))}
    added = updated = 0
    for start in range(0, len(rows), 5000):
        chunk = rows[start : start + 5000]
        stmt = insert(StudyBranch).values(
            [
                {"code": r.code.upper(), "name": r.name, "org_id": ids[(r.district, r.street)], "members": r.members}
                for r in chunk
            ]
        )
        new = stmt.excluded
        upsert: Executable = stmt.on_conflict_do_update(
            index_elements=["code"],
            set_={"name": new.name, "org_id": new.org_id, "members": new.members},
            where=or_(
                StudyBranch.name.is_distinct_from(new.name),
                StudyBranch.org_id.is_distinct_from(new.org_id),
                StudyBranch.members.is_distinct_from(new.members),
            ),
        ).returning(literal_column("xmax = 0"))  # PostgreSQL: a row just inserted has no xmax
        for (inserted,) in await s.execute(upsert):
            added, updated = (added + 1, updated) if inserted else (added, updated + 1)
    return Loaded(added, updated, len(rows) - added - updated)
