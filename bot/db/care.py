"""Care queries: the staff inbox (threads and their messages) and the unanswered questions.

Every function takes the caller's ``AsyncSession`` (one transaction per handler or command).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import Database
from bot.db.care_tables import CareMessage, CareThread, CareUnanswered
from bot.db.models import User


def _at(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC)


def _insert(s: AsyncSession) -> Any:
    return postgresql.insert


async def add_incoming(
    s: AsyncSession,
    user_id: int,
    text: str,
    now: float,
    *,
    reason: str = "message",
    hant: bool = False,
    context: dict[str, Any] | None = None,
) -> int:
    """Put a person's message into their open thread (opening one if none): returns the thread id.

    A crisis (``reason`` other than "message") marks the thread urgent and keeps the first crisis
    reason; a thread staff had answered is open again. Two messages at once still share one
    thread: the partial unique index decides, ``ON CONFLICT`` joins.
    """
    at = _at(now)
    urgent = reason != "message"
    stmt = _insert(s)(CareThread).values(
        user_id=user_id,
        urgent=urgent,
        reason=reason,
        status="open",
        hant=hant,
        opened_at=at,
        updated_at=at,
    )
    new = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=[CareThread.user_id],
        index_where=CareThread.status != "closed",
        set_={
            "urgent": CareThread.urgent | new.urgent,
            "reason": func.coalesce(func.nullif(CareThread.reason, "message"), new.reason),
            "status": "open",
            "hant": new.hant,
            "updated_at": new.updated_at,
        },
    ).returning(CareThread.id)
    thread_id = int((await s.execute(stmt)).scalar_one())
    s.add(CareMessage(thread_id=thread_id, direction="in", text=text[:2000], created_at=at, context=context or {}))
    await s.flush()
    return thread_id


@dataclass(slots=True, frozen=True)
class ThreadRow:
    id: int
    urgent: bool
    reason: str
    status: str
    hant: bool
    opened_at: datetime
    updated_at: datetime
    channel: str
    external_id: str
    last_seen: datetime
    messages: int
    first: str


def _thread_query() -> Any:
    count = select(func.count()).where(CareMessage.thread_id == CareThread.id).correlate(CareThread).scalar_subquery()
    first = (
        select(CareMessage.text)
        .where(CareMessage.thread_id == CareThread.id, CareMessage.direction == "in")
        .order_by(CareMessage.id)
        .limit(1)
        .correlate(CareThread)
        .scalar_subquery()
    )
    return select(CareThread, User.channel, User.external_id, User.last_seen, count, first).join(
        User, User.id == CareThread.user_id
    )


def _row(r: Any) -> ThreadRow:
    t: CareThread = r[0]
    return ThreadRow(
        t.id, t.urgent, t.reason, t.status, t.hant, t.opened_at, t.updated_at, r[1], r[2], r[3], r[4] or 0,
        r[5] or "",
    )  # fmt: skip


async def list_threads(s: AsyncSession, *, include_closed: bool = False, limit: int = 50) -> list[ThreadRow]:
    """Open threads, urgent first, then the longest waiting; answered ones after them."""
    query = _thread_query()
    if not include_closed:
        query = query.where(CareThread.status != "closed")
    rank = case((CareThread.status == "open", 0), (CareThread.status == "answered", 1), else_=2)
    query = query.order_by(rank, CareThread.urgent.desc(), CareThread.opened_at).limit(limit)
    return [_row(r) for r in (await s.execute(query)).all()]


async def get_thread(s: AsyncSession, thread_id: int) -> tuple[ThreadRow, list[CareMessage]] | None:
    found = (await s.execute(_thread_query().where(CareThread.id == thread_id))).first()
    if found is None:
        return None
    messages = (
        (await s.execute(select(CareMessage).where(CareMessage.thread_id == thread_id).order_by(CareMessage.id)))
        .scalars()
        .all()
    )
    return _row(found), list(messages)


async def add_outgoing(s: AsyncSession, thread_id: int, text: str, now: float) -> int:
    """Staff's reply, recorded before it is sent (its id is the notice's idempotency key)."""
    msg = CareMessage(
        thread_id=thread_id, direction="out", text=text, created_at=_at(now), delivery="sending", context={}
    )
    s.add(msg)
    await s.flush()
    return int(msg.id)


async def set_delivery(s: AsyncSession, message_id: int, thread_id: int, delivery: str, now: float) -> None:
    await s.execute(update(CareMessage).where(CareMessage.id == message_id).values(delivery=delivery[:48]))
    if delivery in ("sent", "queued"):
        await s.execute(
            update(CareThread)
            .where(CareThread.id == thread_id, CareThread.status == "open")
            .values(status="answered", updated_at=_at(now))
        )


async def close_thread(s: AsyncSession, thread_id: int, now: float) -> bool:
    """Close a thread; False when there is no such thread or it was closed already."""
    result = await s.execute(
        update(CareThread)
        .where(CareThread.id == thread_id, CareThread.status != "closed")
        .values(status="closed", closed_at=_at(now), updated_at=_at(now))
        .returning(CareThread.id)
    )
    return result.first() is not None


async def record_unanswered(s: AsyncSession, user_hash: str, text: str, now: float) -> None:
    s.add(CareUnanswered(asked_at=_at(now), user_hash=user_hash, text=text))


_KEEP_UNANSWERED = "INSERT INTO care_unanswered (asked_at, user_hash, text) VALUES ($1, $2, $3)"


async def keep_unanswered(db: Database, user_hash: str, text: str, now: float) -> None:
    """Keep a question the FAQ could not answer: one statement, its own commit (the fallback
    writes nothing else, so it needs no transaction around it)."""
    await db.execute(_KEEP_UNANSWERED, _at(now), user_hash, text)


async def unanswered_since(s: AsyncSession, since: float) -> list[tuple[str, str]]:
    """(text, user_hash) of every question kept since ``since``, oldest first."""
    rows = await s.execute(
        select(CareUnanswered.text, CareUnanswered.user_hash)
        .where(CareUnanswered.asked_at >= _at(since))
        .order_by(CareUnanswered.asked_at, CareUnanswered.id)
    )
    return [(r[0], r[1]) for r in rows.all()]


async def forget_person(s: AsyncSession, channel: str, external_id: str, user_hash: str) -> tuple[bool, int]:
    """Delete a person on request: their users row (their inbox threads go with it, and every
    programme row that cascades) and the unanswered questions kept under their hash.

    Returns (whether a users row was found, how many questions went).
    """
    questions = await s.execute(
        delete(CareUnanswered).where(CareUnanswered.user_hash == user_hash).returning(CareUnanswered.id)
    )
    users = await s.execute(
        delete(User).where(User.channel == channel, User.external_id == external_id).returning(User.id)
    )
    return users.first() is not None, len(questions.all())


async def forget(s: AsyncSession, now: float, *, unanswered_days: int, inbox_days: int) -> tuple[int, int]:
    """Delete unanswered questions and closed threads past their keeping time: (questions, threads)."""
    at = _at(now)
    questions = await s.execute(
        delete(CareUnanswered)
        .where(CareUnanswered.asked_at < at - timedelta(days=unanswered_days))
        .returning(CareUnanswered.id)
    )
    threads = await s.execute(
        delete(CareThread)
        .where(CareThread.status == "closed", CareThread.closed_at < at - timedelta(days=inbox_days))
        .returning(CareThread.id)
    )
    return len(questions.all()), len(threads.all())
