"""「青年大学习」: this week's episode and where the asker stands with it, in one read.

The answer everyone asks for most writes nothing: the person is found by their channel id (no
``users`` row is created for a question), and the episode, the open membership's branch and the
completion come back in one statement on the driver's connection (``Database.fetch``), outside
any transaction, for everyone who asks in the same moment (``bot.db.batch``). Reminders,
binding and self-reports keep their own queries in this package.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from bot.db import Database, batch
from bot.db.study.completions import Completion
from bot.db.study.episodes import Episode

#: For each asker (a VALUES list, ``bot.db.batch``: everyone who asks in the same event-loop turn,
#: in one statement): the latest episode opened by then (as ``episodes.current``), and the asker's
#: branch and completion beside it (LEFT JOIN: the episode comes back for anyone). No episode: no
#: row for that asker.
_WEEK = """
WITH q(n, channel, external_id, at) AS (VALUES {rows})
SELECT q.n, e.id, e.number, e.title, e.link, e.opens_at, e.closes_at,
       m.id IS NOT NULL AS member, b.name AS branch, c.self_reported_at, c.confirmed_at
FROM q
CROSS JOIN LATERAL (
  SELECT id, number, title, link, opens_at, closes_at FROM study_episodes
  WHERE opens_at <= q.at ORDER BY opens_at DESC, number DESC LIMIT 1
) e
LEFT JOIN users u ON u.channel = q.channel AND u.external_id = q.external_id
LEFT JOIN study_memberships m ON m.user_id = u.id AND m.left_at IS NULL
LEFT JOIN study_branches b ON b.id = m.branch_id
LEFT JOIN study_completions c ON c.episode_id = e.id AND c.user_id = u.id AND m.id IS NOT NULL
ORDER BY q.n
"""
_WEEK_SQL = {
    size: _WEEK.format(rows=batch.values_list(size, ("varchar", "varchar", "timestamptz"))) for size in batch.SIZES
}
#: A row that matches nobody and no episode, to fill a statement to its size.
_NOBODY = (None, None, datetime(2000, 1, 1, tzinfo=UTC))

#: Who asks, and when: channel, channel id, the moment.
WeekKey = tuple[str, str, datetime]


@dataclass(slots=True, frozen=True)
class Week:
    episode: Episode
    #: The asker's branch name, or None when they are not bound to one.
    branch: str | None
    #: Their completion of the episode (members only), or None.
    done: Completion | None


async def this_week(db: Database, channel: str, external_id: str, now: datetime) -> Week | None:
    """This week's episode with the asker's standing, or None before the first episode opens; one
    read, shared with whoever else asks in the same moment."""
    return await db.batcher("study.week", weeks).get((channel, external_id, now))


async def weeks(db: Database, keys: Sequence[WeekKey]) -> dict[WeekKey, Week | None]:
    """``this_week`` for each of ``keys``: one statement for up to 32 of them."""
    found: dict[WeekKey, Week | None] = dict.fromkeys(keys)
    for size, chunk, args in batch.chunks(keys, cast(WeekKey, _NOBODY)):
        for r in await db.fetch(_WEEK_SQL[size], *args):
            n = r["n"] - 1
            if n >= len(chunk) or found[chunk[n]] is not None:
                continue
            episode = Episode(r["id"], r["number"], r["title"], r["link"], r["opens_at"], r["closes_at"])
            done = None
            if r["self_reported_at"] is not None or r["confirmed_at"] is not None:
                done = Completion(r["self_reported_at"], r["confirmed_at"])
            found[chunk[n]] = Week(episode, r["branch"] if r["member"] else None, done)
    return found
