"""Care tables: the staff inbox (threads of messages between a young person and staff) and the
questions the bot could not answer (masked, under a salted hash of the asker)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base

_ID = BigInteger()

#: Why a thread was opened: a person asked for staff, or a crisis word was seen (its category).
REASONS = ("message", "self_harm", "abuse", "bullying", "danger")
#: open: waiting for staff; answered: staff replied; closed: done (deleted LONGTUAN_INBOX_DAYS later).
STATUSES = ("open", "answered", "closed")


class CareThread(Base):
    """One conversation a person started with staff. At most one not-closed thread per person
    (a partial unique index): more messages join it, a crisis marks it urgent."""

    __tablename__ = "care_threads"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'answered', 'closed')", name="ck_care_threads_status"),
        CheckConstraint(
            "reason IN ('message', 'self_harm', 'abuse', 'bullying', 'danger')", name="ck_care_threads_reason"
        ),
        CheckConstraint("(status = 'closed') = (closed_at IS NOT NULL)", name="ck_care_threads_closed_at"),
        Index(
            "uq_care_threads_active_user",
            "user_id",
            unique=True,
            postgresql_where=text("status <> 'closed'"),
        ),
        Index("ix_care_threads_status_urgent", "status", "urgent", "opened_at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(String(16), default="message")
    status: Mapped[str] = mapped_column(String(8), default="open")
    #: The person writes traditional Chinese: staff replies are converted before they go out.
    hant: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CareMessage(Base):
    """A message of a thread: ``in`` from the person (as written), ``out`` from staff (with its delivery)."""

    __tablename__ = "care_messages"
    __table_args__ = (
        CheckConstraint("direction IN ('in', 'out')", name="ck_care_messages_direction"),
        Index("ix_care_messages_thread", "thread_id", "id"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    thread_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("care_threads.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(4))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: For ``out``: sent / queued / dropped:<reason> / retry:<reason>; "" for ``in``.
    delivery: Mapped[str] = mapped_column(String(48), default="")
    #: For the first ``in`` after asking for staff: how the person got here and what the bot
    #: could not answer them just before (masked). Empty otherwise.
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CareUnanswered(Base):
    """A question the FAQ could not answer, masked, for staff to learn from; deleted after
    LONGTUAN_UNANSWERED_DAYS. ``user_hash`` counts distinct askers without naming them."""

    __tablename__ = "care_unanswered"
    __table_args__ = (Index("ix_care_unanswered_asked_at", "asked_at"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    asked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user_hash: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(String(500))
