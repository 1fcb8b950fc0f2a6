"""The figures behind the participation ratio (参学比): branches, their rosters and completions,
and the ratio per branch, street and district (``lines``).

The ratio is completed / members. ``members`` is the roster size the organisation declares for
the branch, or the number bound through the bot when that is larger (a roster not yet updated
must not give a ratio above 100%). Confirmed (on the official list) and self-reported only are
counted apart; ``completed`` is their sum.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.study.episodes import Episode
from bot.db.study.members import bound_counts
from bot.db.study.tables import StudyBranch, StudyCompletion, StudyMembership, StudyOrg


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


def _figures() -> Select[int, str, str, str, str, int]:
    return select(
        StudyBranch.id,
        StudyOrg.district,
        StudyOrg.street,
        StudyBranch.code,
        StudyBranch.name,
        StudyBranch.members,
    ).join(StudyOrg, StudyOrg.id == StudyBranch.org_id)


async def branches(s: AsyncSession, street: str | None = None) -> list[BranchFigures]:
    stmt = _figures().order_by(StudyOrg.id, StudyBranch.code)  # streets in the organisation file's order
    if street:
        stmt = stmt.where(StudyOrg.street == street)
    bound = await bound_counts(s)
    return [BranchFigures(*row, bound=bound.get(row[0], 0)) for row in await s.execute(stmt)]


async def branch(s: AsyncSession, branch_id: int) -> BranchFigures | None:
    """One branch's figures, as ``branches`` gives them (what a member asks of their own)."""
    row = (await s.execute(_figures().where(StudyBranch.id == branch_id))).first()
    if row is None:
        return None
    bound = await s.scalar(
        select(func.count())
        .select_from(StudyMembership)
        .where(StudyMembership.branch_id == branch_id, StudyMembership.left_at.is_(None))
    )
    return BranchFigures(*row, bound=int(bound or 0))


async def completions(
    s: AsyncSession, episode_ids: Sequence[int], branch_id: int | None = None
) -> dict[tuple[int, int], tuple[int, int]]:
    """(episode id, branch id) -> (confirmed, self-reported only); of one branch with ``branch_id``."""
    if not episode_ids:
        return {}
    confirmed = StudyCompletion.confirmed_at.is_not(None)
    stmt = select(
        StudyCompletion.episode_id,
        StudyCompletion.branch_id,
        func.count().filter(confirmed),
        func.count().filter(~confirmed),
    ).where(StudyCompletion.episode_id.in_(list(episode_ids)))
    if branch_id is not None:
        stmt = stmt.where(StudyCompletion.branch_id == branch_id)
    rows = await s.execute(stmt.group_by(StudyCompletion.episode_id, StudyCompletion.branch_id))
    return {(int(e), int(b)): (int(c), int(u)) for e, b, c, u in rows}


@dataclass(slots=True, frozen=True)
class Line:
    level: str  # branch, street, district
    episode: int
    district: str
    street: str
    code: str
    name: str
    members: int
    confirmed: int
    self_reported: int

    @property
    def completed(self) -> int:
        return self.confirmed + self.self_reported

    @property
    def ratio(self) -> float:
        return self.completed / self.members if self.members else 0.0

    @property
    def confirmed_ratio(self) -> float:
        return self.confirmed / self.members if self.members else 0.0


def lines(
    branches: Sequence[BranchFigures], done: dict[tuple[int, int], tuple[int, int]], episode: Episode
) -> list[Line]:
    """Every branch of ``branches`` for one episode, then each street's sum, then each district's."""
    rows: list[Line] = []
    for b in branches:
        confirmed, self_only = done.get((episode.id, b.id), (0, 0))
        members = max(b.roster, b.bound)
        rows.append(Line("branch", episode.number, b.district, b.street, b.code, b.name, members, confirmed, self_only))
    streets = total(rows, "street", lambda r: (r.district, r.street))
    districts = total(rows, "district", lambda r: (r.district, ""))
    return rows + streets + districts


def total(rows: Iterable[Line], level: str, key: object) -> list[Line]:
    """The sums of ``rows`` grouped by ``key``, as lines of ``level``."""
    groups: dict[tuple[str, str], list[Line]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)  # type: ignore[operator]
    return [
        Line(
            level,
            items[0].episode,
            district,
            street,
            "",
            "",
            sum(i.members for i in items),
            sum(i.confirmed for i in items),
            sum(i.self_reported for i in items),
        )
        for (district, street), items in groups.items()
    ]
