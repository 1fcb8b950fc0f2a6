"""Branches and memberships: binding a user to a 团支部, changing it, pausing reminders."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.study.tables import StudyBranch, StudyMembership, StudyOrg


@dataclass(slots=True, frozen=True)
class Branch:
    id: int
    code: str
    name: str
    street: str
    org: str
    district: str


@dataclass(slots=True, frozen=True)
class Member:
    membership_id: int
    user_id: int
    branch: Branch
    name: str
    mobile: str
    member_no: str
    paused: bool
    paused_episode_id: int | None


class Bound(enum.StrEnum):
    NEW = "new"
    SAME = "same"
    MOVED = "moved"


def at(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC)


async def find_branch(s: AsyncSession, code: str) -> Branch | None:
    """The branch with this code (case and surrounding space ignored), or None."""
    stmt = (
        select(StudyBranch.id, StudyBranch.code, StudyBranch.name, StudyOrg.street, StudyOrg.name, StudyOrg.district)
        .join(StudyOrg, StudyOrg.id == StudyBranch.org_id)
        .where(StudyBranch.code == code.strip().upper())
    )
    row = (await s.execute(stmt)).one_or_none()
    return Branch(*row) if row is not None else None


async def current(s: AsyncSession, user_id: int, *, lock: bool = False) -> Member | None:
    """The user's open membership with its branch; ``lock`` takes the row (FOR UPDATE)."""
    stmt = (
        select(
            StudyMembership.id,
            StudyMembership.user_id,
            StudyBranch.id,
            StudyBranch.code,
            StudyBranch.name,
            StudyOrg.street,
            StudyOrg.name,
            StudyOrg.district,
            StudyMembership.name,
            StudyMembership.mobile,
            StudyMembership.member_no,
            StudyMembership.paused,
            StudyMembership.paused_episode_id,
        )
        .join(StudyBranch, StudyBranch.id == StudyMembership.branch_id)
        .join(StudyOrg, StudyOrg.id == StudyBranch.org_id)
        .where(StudyMembership.user_id == user_id, StudyMembership.left_at.is_(None))
    )
    if lock:
        stmt = stmt.with_for_update(of=StudyMembership)
    row = (await s.execute(stmt)).one_or_none()
    if row is None:
        return None
    return Member(row[0], row[1], Branch(*row[2:8]), row[8], row[9], row[10], row[11], row[12])


async def bind(s: AsyncSession, user_id: int, branch: Branch, now: float) -> tuple[Bound, Member | None]:
    """Bind the user to ``branch``; returns what happened and the membership it replaced, if any.

    A move closes the old membership and opens a new one that keeps the name, mobile and pause
    the member gave, so the history shows every branch and when. The partial unique index on
    open memberships makes a concurrent second bind a no-op instead of a second open row.
    """
    old = await current(s, user_id, lock=True)
    if old is not None and old.branch.id == branch.id:
        return Bound.SAME, old
    if old is not None:
        await s.execute(update(StudyMembership).where(StudyMembership.id == old.membership_id).values(left_at=at(now)))
    stmt = (
        insert(StudyMembership)
        .values(
            user_id=user_id,
            branch_id=branch.id,
            name=old.name if old else "",
            mobile=old.mobile if old else "",
            member_no=old.member_no if old else "",
            joined_at=at(now),
            paused=old.paused if old else False,
            paused_episode_id=old.paused_episode_id if old else None,
        )
        .on_conflict_do_nothing(index_elements=["user_id"], index_where=StudyMembership.left_at.is_(None))
    )
    await s.execute(stmt)
    return (Bound.MOVED if old else Bound.NEW), old


async def leave(s: AsyncSession, user_id: int, now: float) -> str | None:
    """End the user's open membership (its history stays); the branch's name, or None when unbound."""
    result = await s.execute(
        update(StudyMembership)
        .where(StudyMembership.user_id == user_id, StudyMembership.left_at.is_(None))
        .where(StudyBranch.id == StudyMembership.branch_id)
        .values(left_at=at(now))
        .returning(StudyBranch.name)
    )
    row = result.first()
    return str(row[0]) if row is not None else None


async def set_identity(s: AsyncSession, user_id: int, name: str, mobile: str = "", member_no: str = "") -> None:
    """The name (mobile, member id) the member goes by on the League's platform, to match its lists."""
    values = {"name": name, **({"mobile": mobile} if mobile else {}), **({"member_no": member_no} if member_no else {})}
    await s.execute(
        update(StudyMembership)
        .where(StudyMembership.user_id == user_id, StudyMembership.left_at.is_(None))
        .values(**values)
    )


async def set_pause(s: AsyncSession, user_id: int, *, paused: bool, episode_id: int | None) -> bool:
    """Pause (until resumed, or for ``episode_id`` only) or resume; False when the user is not bound."""
    result = await s.execute(
        update(StudyMembership)
        .where(StudyMembership.user_id == user_id, StudyMembership.left_at.is_(None))
        .values(paused=paused, paused_episode_id=episode_id)
        .returning(StudyMembership.id)
    )
    return result.first() is not None


async def history(s: AsyncSession, user_id: int) -> list[tuple[str, datetime, datetime | None]]:
    """Every branch the user has been bound to: (code, joined, left), oldest first."""
    rows = await s.execute(
        select(StudyBranch.code, StudyMembership.joined_at, StudyMembership.left_at)
        .join(StudyBranch, StudyBranch.id == StudyMembership.branch_id)
        .where(StudyMembership.user_id == user_id)
        .order_by(StudyMembership.joined_at, StudyMembership.id)
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def bound_counts(s: AsyncSession) -> dict[int, int]:
    """Open memberships per branch id."""
    rows = await s.execute(
        select(StudyMembership.branch_id, func.count())
        .where(StudyMembership.left_at.is_(None))
        .group_by(StudyMembership.branch_id)
    )
    return {int(b): int(n) for b, n in rows}
