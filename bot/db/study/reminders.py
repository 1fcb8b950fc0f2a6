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

from sqlalchemy import BigInteger, any_, cast, delete, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.study.tables import StudyReminderSend, StudyRuleRun


class Audience(enum.StrEnum):
    ALL = "all"  # every bound member (a new episode opened)
    PENDING = "pending"  # bound members without a completion for the episode


@dataclass(slots=True, frozen=True)
class Target:
    user_id: int
    channel: str
    external_id: str
    #: The claim's row (``study_reminder_sends.id``): what became of the send is written by it.
    send_id: int


#: The members a rule may reach, as SQL: shared by the plan and the claim so they cannot disagree.
_ELIGIBLE = """
    m.left_at IS NULL AND u.subscribed
    AND NOT m.paused AND m.paused_episode_id IS DISTINCT FROM :episode
    AND (:all_members OR NOT EXISTS (
        SELECT 1 FROM study_completions c WHERE c.episode_id = :episode AND c.user_id = m.user_id))
"""

# No NOT EXISTS against the sends: a member claimed before simply conflicts and is not
# returned. An anti-join there was planned, with the sends table's statistics of before the
# run (empty), as a scan of every send per candidate: quadratic, seconds a batch at 20,000.
_CLAIM = text(f"""
WITH candidates AS (
    SELECT m.user_id, u.channel, u.external_id FROM study_memberships m JOIN users u ON u.id = m.user_id
    WHERE {_ELIGIBLE}
      AND m.user_id > :after AND u.id > :after
    ORDER BY m.user_id
    LIMIT :limit
    FOR UPDATE OF m SKIP LOCKED
), claimed AS (
    INSERT INTO study_reminder_sends (episode_id, user_id, rule, status, reason, claimed_at)
    SELECT :episode, user_id, :rule, 'claimed', '', :now FROM candidates
    ON CONFLICT (episode_id, rule, user_id) DO NOTHING
    RETURNING id, user_id
)
SELECT c.user_id, c.channel, c.external_id, claimed.id
FROM candidates c LEFT JOIN claimed ON claimed.user_id = c.user_id
ORDER BY c.user_id
""")


@dataclass(slots=True, frozen=True)
class Batch:
    #: The members this batch claimed: theirs to send.
    targets: list[Target]
    #: The highest member id looked at (claimed or not): where the next batch starts.
    last: int | None


async def claim(
    s: AsyncSession, episode_id: int, rule: str, audience: Audience, limit: int, now: datetime, after: int = 0
) -> Batch:
    """Look at the next ``limit`` eligible members above id ``after``; claim those this rule has not reached.

    Walks members in id order (a keyset: 50,000 members are 250 short batches, not 250 scans
    from the start). ``last`` is None when no member was left to look at. A member reached
    before, or claimed by another runner meanwhile, is looked at but not claimed.
    """
    rows = (
        await s.execute(
            _CLAIM,
            {
                "episode": episode_id,
                "rule": rule,
                "all_members": audience is Audience.ALL,
                "limit": limit,
                "now": now,
                "after": after,
            },
        )
    ).all()
    targets = [Target(int(r[0]), r[1], r[2], int(r[3])) for r in rows if r[3] is not None]
    return Batch(targets, int(rows[-1][0]) if rows else None)


async def mark(s: AsyncSession, send_ids: Iterable[int], status: str, reason: str) -> None:
    """Record what became of claimed sends (``sent``, ``queued`` or ``dropped``).

    By primary key: with the statistics of before the run, a lookup by (episode, rule, member)
    was planned as a filter over every send of the rule, which grows with each batch.
    """
    ids = list(send_ids)
    if ids:
        await s.execute(
            update(StudyReminderSend)
            .where(StudyReminderSend.id == any_(cast(ids, ARRAY(BigInteger))))
            .values(status=status, reason=reason[:64])
        )


async def release(s: AsyncSession, send_ids: Iterable[int]) -> None:
    """Give back claims whose send should be tried again (the platform said "later")."""
    ids = list(send_ids)
    if ids:
        await s.execute(
            delete(StudyReminderSend).where(
                StudyReminderSend.id == any_(cast(ids, ARRAY(BigInteger))),
                StudyReminderSend.status == "claimed",
            )
        )


async def finished(s: AsyncSession, episode_id: int, rule: str) -> bool:
    """The rule has reached every member it could for the episode (a later tick has nothing to do)."""
    found = await s.execute(
        select(StudyRuleRun.rule).where(StudyRuleRun.episode_id == episode_id, StudyRuleRun.rule == rule)
    )
    return found.first() is not None


async def finish(s: AsyncSession, episode_id: int, rule: str, now: datetime) -> None:
    await s.execute(
        insert(StudyRuleRun).values(episode_id=episode_id, rule=rule, finished_at=now).on_conflict_do_nothing()
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
