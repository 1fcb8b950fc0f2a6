"""「青年大学习」: this week's episode and where the asker stands with it, in one read.

The answer everyone asks for most writes nothing: the person is found by their channel id (no
``users`` row is created for a question), and the episode, the open membership's branch and the
completion come back in one statement on the driver's connection (``Database.fetch``), outside
any transaction. Reminders, binding and self-reports keep their own queries in this package.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.db import Database
from bot.db.study.completions import Completion
from bot.db.study.episodes import Episode

#: The latest episode that has opened (as ``episodes.current``), and the asker's branch and
#: completion beside it (LEFT JOIN: the episode comes back for anyone). No episode: no row.
_WEEK = """
SELECT e.id, e.number, e.title, e.link, e.opens_at, e.closes_at,
       m.id IS NOT NULL AS member, b.name AS branch, c.self_reported_at, c.confirmed_at
FROM (SELECT id, number, title, link, opens_at, closes_at FROM study_episodes
      WHERE opens_at <= $3 ORDER BY opens_at DESC, number DESC LIMIT 1) e
LEFT JOIN users u ON u.channel = $1 AND u.external_id = $2
LEFT JOIN study_memberships m ON m.user_id = u.id AND m.left_at IS NULL
LEFT JOIN study_branches b ON b.id = m.branch_id
LEFT JOIN study_completions c ON c.episode_id = e.id AND c.user_id = u.id AND m.id IS NOT NULL
"""


@dataclass(slots=True, frozen=True)
class Week:
    episode: Episode
    #: The asker's branch name, or None when they are not bound to one.
    branch: str | None
    #: Their completion of the episode (members only), or None.
    done: Completion | None


async def this_week(db: Database, channel: str, external_id: str, now: datetime) -> Week | None:
    """This week's episode with the asker's standing, or None before the first episode opens."""
    rows = await db.fetch(_WEEK, channel, external_id, now)
    if not rows:
        return None
    r = rows[0]
    episode = Episode(r["id"], r["number"], r["title"], r["link"], r["opens_at"], r["closes_at"])
    done = None
    if r["self_reported_at"] is not None or r["confirmed_at"] is not None:
        done = Completion(r["self_reported_at"], r["confirmed_at"])
    return Week(episode, r["branch"] if r["member"] else None, done)
