"""The figures behind the participation ratio (参学比): branches, their rosters and completions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.study.members import bound_counts
from bot.db.study.tables import StudyBranch, StudyCompletion, StudyOrg


@dataclass(slots=True, frozen=True)
class BranchFigures:
    id: int
    district: str
    street: str
    code: str
    name: str
    #: The roster size the organisation declares.
    roster: int
    #: Members bound through the bot now.
    bound: int


async def branches(s: AsyncSession, street: str | None = None) -> list[BranchFigures]:
    stmt = (
        select(
            StudyBranch.id,
            StudyOrg.district,
            StudyOrg.street,
            StudyBranch.code,
            StudyBranch.name,
            StudyBranch.members,
        )
        .join(StudyOrg, StudyOrg.id == StudyBranch.org_id)
        .order_by(StudyOrg.id, StudyBranch.code)  # streets in the organisation file's order
    )
    if street:
        stmt = stmt.where(StudyOrg.street == street)
    bound = await bound_counts(s)
    return [BranchFigures(*row, bound=bound.get(row[0], 0)) for row in await s.execute(stmt)]


async def completions(s: AsyncSession, episode_ids: Sequence[int]) -> dict[tuple[int, int], tuple[int, int]]:
    """(episode id, branch id) -> (confirmed, self-reported only)."""
    if not episode_ids:
        return {}
    confirmed = StudyCompletion.confirmed_at.is_not(None)
    rows = await s.execute(
        select(
            StudyCompletion.episode_id,
            StudyCompletion.branch_id,
            func.count().filter(confirmed),
            func.count().filter(~confirmed),
        )
        .where(StudyCompletion.episode_id.in_(list(episode_ids)))
        .group_by(StudyCompletion.episode_id, StudyCompletion.branch_id)
    )
    return {(int(e), int(b)): (int(c), int(u)) for e, b, c, u in rows}
