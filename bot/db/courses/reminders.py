"""Reminders: the confirmed seats of classes in a time range, each claimed once per kind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(slots=True, frozen=True)
class Due:
    signup_id: int
    channel: str
    external_id: str
    class_id: int
    title: str
    venue: str
    starts_at: datetime
    ends_at: datetime


#: The insert is the claim: a second run (or a second scheduler by mistake) finds nothing left.
_CLAIM = text("""
WITH due AS (SELECT s.id FROM course_signups s JOIN course_classes c ON c.id = s.class_id
             WHERE s.status = 'confirmed' AND c.status = 'open' AND c.starts_at >= :from_ AND c.starts_at < :until),
     claimed AS (INSERT INTO course_reminders (signup_id, kind, at) SELECT id, :kind, :now FROM due
                 ON CONFLICT DO NOTHING RETURNING signup_id)
SELECT s.id, u.channel, u.external_id, c.id AS class_id, c.title, c.venue, c.starts_at, c.ends_at
FROM claimed JOIN course_signups s ON s.id = claimed.signup_id JOIN course_classes c ON c.id = s.class_id
JOIN users u ON u.id = s.user_id
ORDER BY c.starts_at, s.id
""")


async def claim(s: AsyncSession, kind: str, from_: datetime, until: datetime, now: datetime) -> list[Due]:
    """Claim the ``kind`` reminder of every confirmed seat of a class starting in [from_, until)."""
    rows = await s.execute(_CLAIM, {"kind": kind, "from_": from_, "until": until, "now": now})
    return [Due(r.id, r.channel, r.external_id, r.class_id, r.title, r.venue, r.starts_at, r.ends_at) for r in rows]
