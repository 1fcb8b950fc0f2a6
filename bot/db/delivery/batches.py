"""Mass-send batch queries: claim one due batch, read its recipients, settle it and its rows together."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.delivery.outbox import ledger, ts


@dataclass(slots=True)
class ClaimedBatch:
    id: int
    campaign_id: int
    clientmsgid: str
    attempts: int
    text: str
    #: (outbox id, openid) of the rows still pending in it (cancelled ones are gone).
    recipients: list[tuple[int, str]]


async def claim_batch(session: AsyncSession, now: float) -> ClaimedBatch | None:
    """Lock one due batch for this transaction (``SKIP LOCKED``: another worker takes the next)."""
    row = (
        await session.execute(
            text("""
            SELECT b.id, b.campaign_id, b.clientmsgid, b.attempts, c.content ->> 'text'
            FROM outbox_batches b JOIN campaigns c ON c.id = b.campaign_id
            WHERE b.status = 'pending' AND b.next_attempt_at <= :now
            ORDER BY b.next_attempt_at LIMIT 1
            FOR UPDATE OF b SKIP LOCKED
            """),
            {"now": ts(now)},
        )
    ).first()
    if row is None:
        return None
    members = await session.execute(
        text("""
        SELECT o.id, u.external_id FROM outbox o JOIN users u ON u.id = o.user_id
        WHERE o.batch_id = :b AND o.status = 'pending' ORDER BY o.id
        """),
        {"b": row[0]},
    )
    return ClaimedBatch(row[0], row[1], row[2], row[3], row[4] or "", [(int(i), str(o)) for i, o in members])


async def settle_batch(
    session: AsyncSession,
    batch: ClaimedBatch,
    now: float,
    *,
    status: str,
    rows_status: str,
    error: str = "",
    errcode: int = 0,
    msg_id: str | None = None,
    retry_at: float | None = None,
    outcome: str,
) -> None:
    """The batch and its pending rows move together; one ledger line for the call.

    ``retry_at``: the batch is due again then and its rows stay pending.
    """
    await session.execute(
        text("""
        UPDATE outbox_batches SET status = CAST(:status AS text), attempts = attempts + 1, last_error = :error,
          msg_id = COALESCE(:msg_id, msg_id), next_attempt_at = :due,
          sent_at = CASE WHEN CAST(:status AS text) = 'sent' THEN :now ELSE sent_at END
        WHERE id = :id
        """),
        {
            "status": status,
            "error": error[:200],
            "msg_id": msg_id,
            "due": ts(retry_at if retry_at is not None else now),
            "now": ts(now),
            "id": batch.id,
        },
    )
    if rows_status != "pending":
        await session.execute(
            text("""
            UPDATE outbox SET status = CAST(:status AS text), last_error = :error, attempts = attempts + 1,
              updated_at = :now,
              sent_at = CASE WHEN CAST(:status AS text) = 'sent' THEN :now ELSE sent_at END,
              msg_id = COALESCE(:msg_id, msg_id),
              batch_id = CASE WHEN CAST(:status AS text) = 'waiting' THEN NULL ELSE batch_id END
            WHERE batch_id = :id AND status = 'pending'
            """),
            {"status": rows_status, "error": error[:200], "now": ts(now), "msg_id": msg_id, "id": batch.id},
        )
    await ledger(session, now, [(None, batch.id, "mass", outcome, errcode, error, len(batch.recipients))])
