"""Reminder sends: who a rule reaches, and the claim that makes a rerun send nothing twice.

A member is claimed for (episode, rule) by inserting a ``study_reminder_sends`` row before the
notice goes out; the unique key (episode, member, rule) lets one claim win. The claim
statement re-checks every condition (bound, following, not paused and, for the "pending"
audience, no completion) at the moment it runs, so a member who completes between the plan
and the send is not claimed. Candidates are taken ``FOR UPDATE SKIP LOCKED``: two runners at
once share the members out instead of both trying the same batch.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.study.tables import StudyReminderSend


class Audience(enum.StrEnum):
    ALL = "all"  # every bound member (a new episode opened)
    PENDING = "pending"  # bound members without a completion for the episode


@dataclass(slots=True, frozen=True)
class Target:
    user_id: int
    channel: str
    external_id: str


#: The members a rule may reach, as SQL: shared by the plan and the claim so they cannot disagree.
_ELIGIBLE = """
    m.left_at IS NULL AND u.subscribed
    AND NOT m.paused AND m.paused_episode_id IS DISTINCT FROM :episode
    AND (:all_members OR NOT EXISTS (
        SELECT 1 FROM study_completions c WHERE c.episode_id = :episode AND c.user_id = m.user_id))
"""

_CLAIM = text(f"""
WITH candidates AS (
    SELECT m.user_id FROM study_memberships m JOIN users u ON u.id = m.user_id
    WHERE {_ELIGIBLE}
      AND NOT EXISTS (SELECT 1 FROM study_reminder_sends r
                      WHERE r.episode_id = :episode AND r.user_id = m.user_id AND r.rule = :rule)
    ORDER BY m.user_id
    LIMIT :limit
    FOR UPDATE OF m SKIP LOCKED
), claimed AS (
    INSERT INTO study_reminder_sends (episode_id, user_id, rule, status, reason, claimed_at)
    SELECT :episode, user_id, :rule, 'claimed', '', :now FROM candidates
    ON CONFLICT (episode_id, user_id, rule) DO NOTHING
    RETURNING user_id
)
SELECT claimed.user_id, u.channel, u.external_id FROM claimed JOIN users u ON u.id = claimed.user_id
ORDER BY claimed.user_id
""")


async def claim(
    s: AsyncSession, episode_id: int, rule: str, audience: Audience, limit: int, now: datetime
) -> list[Target]:
    """Claim up to ``limit`` members this rule has not reached yet for the episode."""
    rows = await s.execute(
        _CLAIM,
        {
            "episode": episode_id,
            "rule": rule,
            "all_members": audience is Audience.ALL,
            "limit": limit,
            "now": now,
        },
    )
    return [Target(int(r[0]), r[1], r[2]) for r in rows]


async def mark(s: AsyncSession, episode_id: int, rule: str, user_ids: Iterable[int], status: str, reason: str) -> None:
    """Record what became of claimed sends (``sent``, ``queued`` or ``dropped``)."""
    ids = list(user_ids)
    if ids:
        await s.execute(
            update(StudyReminderSend)
            .where(
                StudyReminderSend.episode_id == episode_id,
                StudyReminderSend.rule == rule,
                StudyReminderSend.user_id.in_(ids),
            )
            .values(status=status, reason=reason[:64])
        )


async def release(s: AsyncSession, episode_id: int, rule: str, user_ids: Iterable[int]) -> None:
    """Give back claims whose send should be tried again (the platform said "later")."""
    ids = list(user_ids)
    if ids:
        await s.execute(
            delete(StudyReminderSend).where(
                StudyReminderSend.episode_id == episode_id,
                StudyReminderSend.rule == rule,
                StudyReminderSend.user_id.in_(ids),
                StudyReminderSend.status == "claimed",
            )
        )


@dataclass(slots=True, frozen=True)
class Plan:
    bound: int
    not_following: int
    paused: int
    completed: int  # skipped because they have studied (the "pending" audience only)
    already: int  # reached by this rule before
    to_send: int


_PLAN = text("""
SELECT
    count(*),
    count(*) FILTER (WHERE NOT u.subscribed),
    count(*) FILTER (WHERE u.subscribed AND (m.paused OR m.paused_episode_id IS NOT DISTINCT FROM :episode)),
    count(*) FILTER (WHERE u.subscribed AND NOT m.paused AND m.paused_episode_id IS DISTINCT FROM :episode
                     AND NOT :all_members AND done.user_id IS NOT NULL),
    count(*) FILTER (WHERE u.subscribed AND NOT m.paused AND m.paused_episode_id IS DISTINCT FROM :episode
                     AND (:all_members OR done.user_id IS NULL) AND sent.user_id IS NOT NULL),
    count(*) FILTER (WHERE u.subscribed AND NOT m.paused AND m.paused_episode_id IS DISTINCT FROM :episode
                     AND (:all_members OR done.user_id IS NULL) AND sent.user_id IS NULL)
FROM study_memberships m
JOIN users u ON u.id = m.user_id
LEFT JOIN study_completions done ON done.episode_id = :episode AND done.user_id = m.user_id
LEFT JOIN study_reminder_sends sent ON sent.episode_id = :episode AND sent.user_id = m.user_id AND sent.rule = :rule
WHERE m.left_at IS NULL
""")


async def plan(s: AsyncSession, episode_id: int, rule: str, audience: Audience) -> Plan:
    """The numbers a run of ``rule`` would meet now, without claiming anyone."""
    params = {"episode": episode_id, "rule": rule, "all_members": audience is Audience.ALL}
    row = (await s.execute(_PLAN, params)).one()
    return Plan(*(int(v) for v in row))


async def sent_counts(s: AsyncSession, episode_id: int) -> dict[tuple[str, str], int]:
    """(rule, status) -> sends recorded for the episode."""
    rows = await s.execute(
        text("SELECT rule, status, count(*) FROM study_reminder_sends WHERE episode_id = :e GROUP BY rule, status"),
        {"e": episode_id},
    )
    return {(r[0], r[1]): int(r[2]) for r in rows}
