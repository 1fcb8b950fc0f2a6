"""Delivery tables: the outbox, mass-send batches, the attempt ledger, consents, campaigns, daily figures.

Rules that must hold under concurrency are the database's: one outbox row per idempotency key
(UNIQUE), one mass-send call per ``clientmsgid`` (UNIQUE), one approval per cadre and campaign
(primary key), and the states are CHECK constraints.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base

#: How a notice reaches a user; ``none`` while it waits or after it was dropped.
WAYS = ("custom", "template", "subscribe", "mass", "none")
#: held: planned for a campaign not yet sending · pending: due at next_attempt_at · waiting: for the
#: user's next interaction · sent · dropped (last_error says why) · cancelled. Rows and batches.
STATUSES = ("held", "pending", "waiting", "sent", "dropped", "cancelled")
CAMPAIGN_STATES = ("draft", "planned", "approved", "sending", "done", "cancelled")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class OutboxRow(Base):
    """One notice to one user: what, by which way, when it is next tried, and what became of it.

    No foreign keys: a campaign's plan inserts 260,000 rows at once, and their three FK triggers
    were 55 % of that insert (1.65 s of 3 for 20,000 rows, measured). Only this package writes the
    rows, from ids it has just read in the same transaction; users and campaigns are never deleted.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_in("way", WAYS), name="ck_outbox_way"),
        CheckConstraint(_in("status", STATUSES), name="ck_outbox_status"),
        # The workers' claim: due rows in order.
        Index("ix_outbox_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
        Index("ix_outbox_waiting", "user_id", postgresql_where=text("status = 'waiting'")),
        # The planner's counts: customer-service messages since the user last wrote, mass sends this month.
        Index("ix_outbox_user_sent", "user_id", "way", "sent_at", postgresql_where=text("status = 'sent'")),
        # One row per recipient of a campaign (its rows carry no idempotency key of their own).
        Index(
            "uq_outbox_campaign_user",
            "campaign_id",
            "user_id",
            unique=True,
            postgresql_where=text("campaign_id IS NOT NULL"),
        ),
        Index("ix_outbox_msg_id", "msg_id", postgresql_where=text("msg_id IS NOT NULL")),
        Index("uq_outbox_idem_key", "idem_key", unique=True, postgresql_where=text("idem_key IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    purpose: Mapped[str] = mapped_column(String(48))
    #: The rendered text and the template fields; NULL for a campaign's rows (the campaign holds it).
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    way: Mapped[str] = mapped_column(String(12), server_default="none")
    #: Whether the worker chooses the way when it is due (a single notice) or it was planned (a campaign).
    planned: Mapped[bool] = mapped_column(server_default=text("false"))
    #: Unique; NULL for a campaign's rows (``uq_outbox_campaign_user`` keeps those one per person).
    idem_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(12), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str] = mapped_column(String(200), server_default="")
    campaign_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: The platform's id of the message (template msgid): receipts find the row by it.
    msg_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class OutboxBatch(Base):
    """One mass-send call to 2-10,000 followers; ``clientmsgid`` makes a repeated call a no-op.

    Its recipients are ``members`` (users' ids), not outbox rows: a campaign to 260,000 followers
    writes 24 batches instead of 240,000 rows (the plan's insert was 12 of its 15 seconds). The
    batch's status is its members'; ``waiting`` means they were handed to rows of their own (the
    platform had no mass quota for them), which then wait for each one's next interaction.
    """

    __tablename__ = "outbox_batches"
    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="ck_outbox_batches_status"),
        Index("ix_outbox_batches_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
        Index("ix_outbox_batches_sent", "sent_at", postgresql_where=text("status = 'sent'")),
        Index("ix_outbox_batches_msg_id", "msg_id", postgresql_where=text("msg_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"))
    clientmsgid: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(Integer)
    members: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    status: Mapped[str] = mapped_column(String(12), server_default="held")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str] = mapped_column(String(200), server_default="")
    msg_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DeliveryAttempt(Base):
    """The ledger: every attempt and every platform receipt, never updated."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (Index("ix_delivery_attempts_at", "at"), Index("ix_delivery_attempts_outbox", "outbox_id"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    outbox_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    batch_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("outbox_batches.id", ondelete="CASCADE"), nullable=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    way: Mapped[str] = mapped_column(String(12))
    #: sent · retry · replan · dropped · receipt
    outcome: Mapped[str] = mapped_column(String(12))
    errcode: Mapped[int] = mapped_column(Integer, server_default="0")
    detail: Mapped[str] = mapped_column(String(200), server_default="")
    recipients: Mapped[int] = mapped_column(Integer, server_default="1")


class Consent(Base):
    """Subscription-notice consents a user gave for a template (each allows one bizsend)."""

    __tablename__ = "subscribe_consents"
    __table_args__ = (CheckConstraint("remaining >= 0", name="ck_subscribe_consents_remaining"),)

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    template_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    remaining: Mapped[int] = mapped_column(Integer, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Campaign(Base):
    """A cadres' broadcast: content, audience, schedule and state; every step is in ``campaign_audit``."""

    __tablename__ = "campaigns"
    __table_args__ = (CheckConstraint(_in("state", CAMPAIGN_STATES), name="ck_campaigns_state"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    #: {"text": ...} or {"template_id": ..., "fields": {...}, "url": ...}
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    #: {"source": "all" | "streets" | "tag" | "openids" | a registered source, "params": {...}}
    audience: Mapped[dict[str, Any]] = mapped_column(JSONB)
    state: Mapped[str] = mapped_column(String(12), server_default="draft")
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: What ``plan`` found: counts by way and status, the days it takes (JSON).
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    audience_size: Mapped[int] = mapped_column(Integer, server_default="0")


class CampaignApproval(Base):
    __tablename__ = "campaign_approvals"

    campaign_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    cadre: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CampaignAudit(Base):
    __tablename__ = "campaign_audit"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(24))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class CampaignOpenid(Base):
    """An uploaded openid list (a campaign's audience ``openids``)."""

    __tablename__ = "campaign_openids"

    campaign_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    external_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class UserTag(Base):
    """Cadres' tags on followers (audience ``tag``), loaded from a file of openids."""

    __tablename__ = "user_tags"

    tag: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)


class DeliveryDaily(Base):
    """The daily roll-up of the ledger: attempts by way and outcome (and recipients) per local day."""

    __tablename__ = "delivery_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    way: Mapped[str] = mapped_column(String(12), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(12), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    recipients: Mapped[int] = mapped_column(Integer)
