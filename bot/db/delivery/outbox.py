"""Outbox queries: enqueue inside the caller's transaction, claim due rows, record what became of them.

A claim is ``FOR UPDATE SKIP LOCKED`` in the worker's own transaction, held while the claimed
rows are sent and their results written: workers never take each other's rows, and a worker
killed mid-batch loses its connection, so PostgreSQL releases its locks and rolls back, and the
rows are due again at once (no lease to tune, no row stolen from a worker that is only slow).
What was sent in that batch before the kill may go out again: at most one batch per worker lane.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.outbound import Notice

EPOCH = datetime.fromtimestamp(0, UTC)


def ts(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


_USER_SEEN = text("""
INSERT INTO users (channel, external_id, subscribed, first_scene, first_seen, last_seen, street)
VALUES (:channel, :openid, TRUE, '', :now, :now, '')
ON CONFLICT (channel, external_id) DO UPDATE SET last_seen = GREATEST(users.last_seen, excluded.last_seen)
RETURNING id
""")
# A notice for someone the write-behind has not written yet: the row is made without pretending
# they were seen now (last_seen at the epoch keeps the customer-service window shut for them).
_USER_QUIET = text("""
WITH made AS (
  INSERT INTO users (channel, external_id, subscribed, first_scene, first_seen, last_seen, street)
  VALUES (:channel, :openid, TRUE, '', :now, :epoch, '')
  ON CONFLICT (channel, external_id) DO NOTHING RETURNING id
)
SELECT id FROM made UNION ALL SELECT id FROM users WHERE channel = :channel AND external_id = :openid
LIMIT 1
""")
_ENQUEUE = text("""
INSERT INTO outbox (user_id, purpose, payload, way, planned, idem_key, status, next_attempt_at, created_at, updated_at)
VALUES (:user_id, :purpose, CAST(:payload AS jsonb), 'none', FALSE, :key, 'pending', :due, :now, :now)
ON CONFLICT (idem_key) WHERE idem_key IS NOT NULL DO NOTHING
RETURNING id
""")


def payload_of(notice: Notice) -> dict[str, Any]:
    reply = notice.reply
    return {"text": reply.text, "key": reply.key, "fields": dict(notice.fields)}


async def enqueue(
    session: AsyncSession, notice: Notice, now: float, *, seen: bool = False, delay: float = 0.0
) -> int | None:
    """Queue ``notice`` in the caller's transaction; the id, or None when its key was queued before.

    ``notice.reply`` must be rendered (``Services.notify`` and the pipeline do it). ``seen``: the
    recipient interacted just now (a late reply to their message), so their ``last_seen`` moves.
    """
    at = ts(now)
    params = {"channel": notice.channel, "openid": notice.user_id, "now": at, "epoch": EPOCH}
    user_id = (await session.execute(_USER_SEEN if seen else _USER_QUIET, params)).scalar_one()
    row = await session.execute(
        _ENQUEUE,
        {
            "user_id": user_id,
            "purpose": notice.purpose,
            "payload": json.dumps(payload_of(notice), ensure_ascii=False),
            "key": notice.key,
            "due": ts(now + delay),
            "now": at,
        },
    )
    found = row.scalar_one_or_none()
    return None if found is None else int(found)


async def durable(session: AsyncSession) -> None:
    """Give this transaction an xid: its (synchronous) commit flushes the log, every earlier commit too."""
    await session.execute(text("SELECT pg_current_xact_id()"))


@dataclass(slots=True)
class Claimed:
    id: int
    user_id: int
    channel: str
    openid: str
    purpose: str
    payload: dict[str, Any] | None
    way: str
    planned: bool
    attempts: int
    campaign_id: int | None
    created_at: float
    due_at: float
    subscribed: bool
    last_seen: float
    custom_sent: int


_CLAIM = text("""
WITH due AS (
  SELECT id FROM outbox
  WHERE status = 'pending' AND next_attempt_at <= :now
  ORDER BY next_attempt_at
  LIMIT :limit
  FOR UPDATE SKIP LOCKED
)
SELECT o.id, o.user_id, u.channel, u.external_id, o.purpose, o.payload, o.way, o.planned, o.attempts,
       o.campaign_id, o.created_at, o.next_attempt_at, u.subscribed, u.last_seen,
       (SELECT count(*) FROM outbox s
         WHERE s.user_id = o.user_id AND s.status = 'sent' AND s.way = 'custom' AND s.sent_at >= u.last_seen)
FROM due JOIN outbox o ON o.id = due.id JOIN users u ON u.id = o.user_id
ORDER BY o.next_attempt_at
""")


async def claim(session: AsyncSession, now: float, limit: int) -> list[Claimed]:
    """Lock up to ``limit`` due rows for this transaction, with their recipients."""
    rows = await session.execute(_CLAIM, {"now": ts(now), "limit": limit})
    return [
        Claimed(
            id=r[0],
            user_id=r[1],
            channel=r[2],
            openid=r[3],
            purpose=r[4],
            payload=r[5],
            way=r[6],
            planned=r[7],
            attempts=r[8],
            campaign_id=r[9],
            created_at=r[10].timestamp(),
            due_at=r[11].timestamp(),
            subscribed=r[12],
            last_seen=r[13].timestamp(),
            custom_sent=int(r[14]),
        )
        for r in rows
    ]


@dataclass(slots=True)
class Result:
    """What became of one claimed row, and the ledger lines of the calls made for it."""

    id: int
    status: str
    way: str
    next_attempt_at: float
    last_error: str = ""
    msg_id: str | None = None
    #: Ledger lines: (way, outcome, errcode, detail) for each call made for this row.
    lines: list[tuple[str, str, int, str]] = field(default_factory=list)
    tried: bool = True


_APPLY = text("""
UPDATE outbox o SET status = v.status, way = v.way, next_attempt_at = v.due, last_error = v.error,
  msg_id = COALESCE(v.msg_id, o.msg_id), attempts = o.attempts + CASE WHEN v.tried THEN 1 ELSE 0 END,
  sent_at = CASE WHEN v.status = 'sent' THEN :now ELSE o.sent_at END, updated_at = :now
FROM unnest(CAST(:ids AS bigint[]), CAST(:statuses AS text[]), CAST(:ways AS text[]), CAST(:dues AS timestamptz[]),
            CAST(:errors AS text[]), CAST(:msg_ids AS text[]), CAST(:tried AS boolean[]))
     AS v(id, status, way, due, error, msg_id, tried)
WHERE o.id = v.id
""")
_LEDGER = text("""
INSERT INTO delivery_attempts (outbox_id, batch_id, at, way, outcome, errcode, detail, recipients)
SELECT o, b, :now, w, c, e, d, n
FROM unnest(CAST(:outbox AS bigint[]), CAST(:batch AS bigint[]), CAST(:ways AS text[]), CAST(:outcomes AS text[]),
            CAST(:errcodes AS int[]), CAST(:details AS text[]), CAST(:counts AS int[])) AS l(o, b, w, c, e, d, n)
""")


async def apply(session: AsyncSession, results: Sequence[Result], now: float) -> None:
    """Write the results of a claim and their ledger lines, in two statements."""
    if not results:
        return
    await session.execute(
        _APPLY,
        {
            "now": ts(now),
            "ids": [r.id for r in results],
            "statuses": [r.status for r in results],
            "ways": [r.way for r in results],
            "dues": [ts(r.next_attempt_at) for r in results],
            "errors": [r.last_error[:200] for r in results],
            "msg_ids": [r.msg_id for r in results],
            "tried": [r.tried for r in results],
        },
    )
    await ledger(session, now, [(r.id, None, *line, 1) for r in results for line in r.lines])


async def ledger(
    session: AsyncSession, now: float, lines: Iterable[tuple[int | None, int | None, str, str, int, str, int]]
) -> None:
    """Append ledger lines: (outbox id, batch id, way, outcome, errcode, detail, recipients)."""
    items = list(lines)
    if not items:
        return
    await session.execute(
        _LEDGER,
        {
            "now": ts(now),
            "outbox": [i[0] for i in items],
            "batch": [i[1] for i in items],
            "ways": [i[2] for i in items],
            "outcomes": [i[3] for i in items],
            "errcodes": [i[4] for i in items],
            "details": [i[5][:200] for i in items],
            "counts": [i[6] for i in items],
        },
    )


async def consents(session: AsyncSession, user_ids: Sequence[int], template_id: str) -> dict[int, int]:
    rows = await session.execute(
        text("SELECT user_id, remaining FROM subscribe_consents WHERE template_id = :t AND user_id = ANY(:ids)"),
        {"t": template_id, "ids": list(user_ids)},
    )
    return {int(u): int(n) for u, n in rows}


async def use_consent(session: AsyncSession, user_id: int, template_id: str, now: float) -> None:
    await session.execute(
        text(
            "UPDATE subscribe_consents SET remaining = remaining - 1, updated_at = :now "
            "WHERE user_id = :u AND template_id = :t AND remaining > 0"
        ),
        {"u": user_id, "t": template_id, "now": ts(now)},
    )


async def grant_consent(session: AsyncSession, user_id: int, template_id: str, accepted: bool, now: float) -> None:
    """A subscription pop-up answered: an acceptance allows one more notice, a refusal clears them."""
    await session.execute(
        text("""
        INSERT INTO subscribe_consents (user_id, template_id, remaining, updated_at)
        VALUES (:u, :t, CASE WHEN :ok THEN 1 ELSE 0 END, :now)
        ON CONFLICT (user_id, template_id) DO UPDATE SET
          remaining = CASE WHEN :ok THEN subscribe_consents.remaining + 1 ELSE 0 END, updated_at = :now
        """),
        {"u": user_id, "t": template_id, "ok": accepted, "now": ts(now)},
    )


async def mark_unsubscribed(session: AsyncSession, user_ids: Sequence[int], now: float) -> None:
    """The platform said 43004 (not a follower): the users table learns it too."""
    if user_ids:
        await session.execute(
            text(
                "UPDATE users SET subscribed = FALSE, unsubscribed_at = COALESCE(unsubscribed_at, :now) "
                "WHERE id = ANY(:ids) AND subscribed"
            ),
            {"ids": list(user_ids), "now": ts(now)},
        )


async def wake_waiting(session: AsyncSession, now: float, wait: float) -> tuple[int, int]:
    """Rows waiting for an interaction: due again for those who interacted since; dropped after ``wait``.

    Returns (woken, expired).
    """
    woken = await session.execute(
        text("""
        UPDATE outbox o SET status = 'pending', next_attempt_at = :now, updated_at = :now
        FROM users u
        WHERE o.status = 'waiting' AND u.id = o.user_id AND u.last_seen > o.updated_at
        """),
        {"now": ts(now)},
    )
    expired = await session.execute(
        text("""
        UPDATE outbox SET status = 'dropped', last_error = 'expired: ' || last_error, updated_at = :now
        WHERE status = 'waiting' AND created_at < :cutoff
        """),
        {"now": ts(now), "cutoff": ts(now - wait)},
    )
    return int(woken.rowcount), int(expired.rowcount)  # type: ignore[attr-defined]


async def sent_since(session: AsyncSession, way: str, since: float) -> int:
    """Recipients reached by ``way`` since ``since`` (the template quota's use today)."""
    row = await session.execute(
        text("SELECT count(*) FROM outbox WHERE status = 'sent' AND way = :way AND sent_at >= :since"),
        {"way": way, "since": ts(since)},
    )
    return int(row.scalar_one())


@dataclass(slots=True, frozen=True)
class Depth:
    by_status: dict[str, int]
    oldest_due: float  # seconds the oldest due row has waited (0: none due)


async def depth(session: AsyncSession, now: float) -> Depth:
    rows = await session.execute(
        text("SELECT status, count(*) FROM outbox WHERE status IN ('held', 'pending', 'waiting') GROUP BY status")
    )
    oldest = (
        await session.execute(
            text("SELECT min(next_attempt_at) FROM outbox WHERE status = 'pending' AND next_attempt_at <= :now"),
            {"now": ts(now)},
        )
    ).scalar_one()
    return Depth({s: int(n) for s, n in rows}, max(0.0, now - oldest.timestamp()) if oldest else 0.0)


async def record_receipt(
    session: AsyncSession, way: str, msg_id: str, status: str, counts: dict[str, int], now: float
) -> bool:
    """A TEMPLATESENDJOBFINISH or MASSSENDJOBFINISH receipt in the ledger; False when no send had that id."""
    table = "outbox" if way == "template" else "outbox_batches"
    found = (
        await session.execute(text(f"SELECT id FROM {table} WHERE msg_id = :m LIMIT 1"), {"m": msg_id})
    ).scalar_one_or_none()
    if found is None:
        return False
    errors = int(counts.get("ErrorCount", 0))
    recipients = int(counts.get("SentCount", 1)) if way == "mass" else 1
    line = (found, None) if way == "template" else (None, found)
    detail = status if not counts else f"{status} " + " ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    await ledger(session, now, [(*line, way, "receipt", errors, detail, recipients)])
    return True


async def roll_up(session: AsyncSession, since: float, until: float, tz: str) -> int:
    """The ledger's attempts and recipients per local day, way and outcome; rewrites those days (rerunnable)."""
    result = await session.execute(
        text("""
        INSERT INTO delivery_daily (day, way, outcome, attempts, recipients)
        SELECT (at AT TIME ZONE :tz)::date, way, outcome, count(*), sum(recipients)
        FROM delivery_attempts WHERE at >= :since AND at < :until GROUP BY 1, 2, 3
        ON CONFLICT (day, way, outcome) DO UPDATE SET attempts = excluded.attempts, recipients = excluded.recipients
        """),
        {"tz": tz, "since": ts(since), "until": ts(until)},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
