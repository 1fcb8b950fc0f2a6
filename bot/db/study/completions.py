"""Completions: a member's self-report, and the League's official list matched to members.

A self-report is recorded as unconfirmed; the official list confirms it (or records a
completion the member never reported). Matching an official row to a member goes by mobile,
then by member id (团员编号), then by name within the named branch; a row that finds nobody or
several people is reported back, never guessed.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Executable, literal_column, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.study.tables import StudyBranch, StudyCompletion, StudyMembership


class Recorded(enum.StrEnum):
    NEW = "new"
    ALREADY = "already"  # self-reported before
    CONFIRMED = "confirmed"  # the official list has it already


@dataclass(slots=True, frozen=True)
class Completion:
    self_reported_at: datetime | None
    confirmed_at: datetime | None

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None


async def of(s: AsyncSession, episode_id: int, user_id: int) -> Completion | None:
    row = (
        await s.execute(
            select(StudyCompletion.self_reported_at, StudyCompletion.confirmed_at).where(
                StudyCompletion.episode_id == episode_id, StudyCompletion.user_id == user_id
            )
        )
    ).one_or_none()
    return Completion(row[0], row[1]) if row is not None else None


async def self_report(s: AsyncSession, episode_id: int, user_id: int, branch_id: int, now: datetime) -> Recorded:
    """Record the member's own word that they studied; a second report changes nothing."""
    stmt = (
        insert(StudyCompletion)
        .values(episode_id=episode_id, user_id=user_id, branch_id=branch_id, self_reported_at=now)
        .on_conflict_do_nothing(constraint="uq_study_completions_episode_user")
        .returning(StudyCompletion.id)
    )
    if (await s.execute(stmt)).first() is not None:
        return Recorded.NEW
    found = await of(s, episode_id, user_id)
    return Recorded.CONFIRMED if found is not None and found.confirmed else Recorded.ALREADY


@dataclass(slots=True, frozen=True)
class OfficialRow:
    """One row of the League's list, as read from the file (row number as a spreadsheet shows it)."""

    row: int
    name: str
    branch: str
    mobile: str = ""
    member_no: str = ""
    time: str = ""


@dataclass(slots=True, frozen=True)
class _Candidate:
    user_id: int
    branch_id: int


@dataclass(slots=True)
class Matching:
    #: user id -> (branch id, the row that named them)
    matched: dict[int, tuple[int, OfficialRow]] = field(default_factory=dict)
    unmatched: list[OfficialRow] = field(default_factory=list)
    #: rows that fit several members, with how many
    ambiguous: list[tuple[OfficialRow, int]] = field(default_factory=list)


async def match(s: AsyncSession, rows: Sequence[OfficialRow]) -> Matching:
    """Find each row's member among the open memberships (read once: the list can be 50,000 rows)."""
    by_mobile: dict[str, list[_Candidate]] = defaultdict(list)
    by_no: dict[str, list[_Candidate]] = defaultdict(list)
    by_name: dict[tuple[int, str], list[_Candidate]] = defaultdict(list)
    members = await s.execute(
        select(
            StudyMembership.user_id,
            StudyMembership.branch_id,
            StudyMembership.name,
            StudyMembership.mobile,
            StudyMembership.member_no,
        ).where(StudyMembership.left_at.is_(None))
    )
    for user_id, branch_id, name, mobile, member_no in members:
        candidate = _Candidate(user_id, branch_id)
        if mobile:
            by_mobile[mobile].append(candidate)
        if member_no:
            by_no[member_no].append(candidate)
        if name:
            by_name[(branch_id, name)].append(candidate)
    branches: dict[str, int] = {}  # code or name -> id (ids start at 1)
    for branch_id, code, name in await s.execute(select(StudyBranch.id, StudyBranch.code, StudyBranch.name)):
        branches[code.upper()] = branch_id
        branches.setdefault(name, branch_id)

    result = Matching()
    for row in rows:
        found: list[_Candidate] = []
        if row.mobile:
            found = by_mobile.get(row.mobile, [])
        if not found and row.member_no:
            found = by_no.get(row.member_no, [])
        if not found and row.name:
            named = branches.get(row.branch) or branches.get(row.branch.upper())
            if named:
                found = by_name.get((named, row.name), [])
        if len(found) == 1:
            result.matched.setdefault(found[0].user_id, (found[0].branch_id, row))
        elif found:
            result.ambiguous.append((row, len(found)))
        else:
            result.unmatched.append(row)
    return result


@dataclass(slots=True, frozen=True)
class Confirmed:
    new: int  # completions the list added
    upgraded: int  # self-reports the list confirmed
    unchanged: int  # already confirmed by an earlier import


#: Rows per INSERT: asyncpg binds at most 32,767 parameters a statement, five a row here.
_CHUNK = 5000


async def confirm(s: AsyncSession, episode_id: int, matching: Matching, now: datetime) -> Confirmed:
    """Write the matched rows as confirmed completions; the same list again changes nothing."""
    rows = [
        {
            "episode_id": episode_id,
            "user_id": user_id,
            "branch_id": branch_id,
            "confirmed_at": now,
            "official_time": row.time[:32],
        }
        for user_id, (branch_id, row) in matching.matched.items()
    ]
    new = upgraded = 0
    for start in range(0, len(rows), _CHUNK):
        stmt = insert(StudyCompletion).values(rows[start : start + _CHUNK])
        upsert: Executable = stmt.on_conflict_do_update(
            constraint="uq_study_completions_episode_user",
            set_={"confirmed_at": stmt.excluded.confirmed_at, "official_time": stmt.excluded.official_time},
            # An earlier import's confirmation stands: a re-import rewrites nothing.
            where=StudyCompletion.confirmed_at.is_(None),
        ).returning(literal_column("xmax = 0"))  # PostgreSQL: a row just inserted has no xmax
        for (inserted,) in await s.execute(upsert):
            if inserted:
                new += 1
            else:
                upgraded += 1
    return Confirmed(new, upgraded, len(rows) - new - upgraded)
