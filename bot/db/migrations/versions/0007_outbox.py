"""the delivery engine: outbox, mass-send batches, attempt ledger, consents, campaigns, daily figures

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _postgres() -> bool:
    # The delivery engine is PostgreSQL's (SKIP LOCKED, JSONB, arrays); the embedded SQLite first
    # run, which is being retired, has no outbox and sends notices at once.
    return bool(op.get_bind().dialect.name == "postgresql")


def upgrade() -> None:
    if not _postgres():
        return
    op.create_table(
        "campaigns",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("audience", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("state", sa.String(length=12), server_default="draft", nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("plan", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("audience_size", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "state IN ('draft', 'planned', 'approved', 'sending', 'done', 'cancelled')", name="ck_campaigns_state"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "delivery_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("way", sa.String(length=12), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "way", "outcome"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("purpose", sa.String(length=48), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("way", sa.String(length=12), server_default="none", nullable=False),
        sa.Column("planned", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("idem_key", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=12), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=200), server_default="", nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=True),
        sa.Column("msg_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('held', 'pending', 'waiting', 'sent', 'dropped', 'cancelled')", name="ck_outbox_status"
        ),
        sa.CheckConstraint("way IN ('custom', 'template', 'subscribe', 'mass', 'none')", name="ck_outbox_way"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_due", ["next_attempt_at"], unique=False, postgresql_where=sa.text("status = 'pending'")
        )
        batch_op.create_index(
            "ix_outbox_msg_id", ["msg_id"], unique=False, postgresql_where=sa.text("msg_id IS NOT NULL")
        )
        batch_op.create_index(
            "ix_outbox_user_sent",
            ["user_id", "way", "sent_at"],
            unique=False,
            postgresql_where=sa.text("status = 'sent'"),
        )
        batch_op.create_index(
            "ix_outbox_waiting", ["user_id"], unique=False, postgresql_where=sa.text("status = 'waiting'")
        )
        batch_op.create_index(
            "uq_outbox_campaign_user",
            ["campaign_id", "user_id"],
            unique=True,
            postgresql_where=sa.text("campaign_id IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_outbox_idem_key", ["idem_key"], unique=True, postgresql_where=sa.text("idem_key IS NOT NULL")
        )

    op.create_table(
        "campaign_approvals",
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("cadre", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("campaign_id", "cadre"),
    )
    op.create_table(
        "campaign_audit",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column(
            "detail", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("campaign_audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaign_audit_campaign_id"), ["campaign_id"], unique=False)

    op.create_table(
        "campaign_openids",
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("campaign_id", "external_id"),
    )
    op.create_table(
        "outbox_batches",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("clientmsgid", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("members", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("status", sa.String(length=12), server_default="held", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=200), server_default="", nullable=False),
        sa.Column("msg_id", sa.String(length=40), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('held', 'pending', 'waiting', 'sent', 'dropped', 'cancelled')", name="ck_outbox_batches_status"
        ),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("clientmsgid"),
    )
    with op.batch_alter_table("outbox_batches", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_batches_due", ["next_attempt_at"], unique=False, postgresql_where=sa.text("status = 'pending'")
        )
        batch_op.create_index(
            "ix_outbox_batches_msg_id", ["msg_id"], unique=False, postgresql_where=sa.text("msg_id IS NOT NULL")
        )
        batch_op.create_index(
            "ix_outbox_batches_sent", ["sent_at"], unique=False, postgresql_where=sa.text("status = 'sent'")
        )

    op.create_table(
        "subscribe_consents",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("template_id", sa.String(length=64), nullable=False),
        sa.Column("remaining", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("remaining >= 0", name="ck_subscribe_consents_remaining"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "template_id"),
    )
    op.create_table(
        "user_tags",
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tag", "user_id"),
    )
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("outbox_id", sa.BigInteger(), nullable=True),
        sa.Column("batch_id", sa.BigInteger(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("way", sa.String(length=12), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("errcode", sa.Integer(), server_default="0", nullable=False),
        sa.Column("detail", sa.String(length=200), server_default="", nullable=False),
        sa.Column("recipients", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["outbox_batches.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_delivery_attempts_at", ["at"], unique=False)
        batch_op.create_index("ix_delivery_attempts_outbox", ["outbox_id"], unique=False)


def downgrade() -> None:
    if not _postgres():
        return
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_attempts_outbox")
        batch_op.drop_index("ix_delivery_attempts_at")

    op.drop_table("delivery_attempts")
    op.drop_table("user_tags")
    op.drop_table("subscribe_consents")
    with op.batch_alter_table("outbox_batches", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_batches_sent", postgresql_where=sa.text("status = 'sent'"))
        batch_op.drop_index("ix_outbox_batches_msg_id", postgresql_where=sa.text("msg_id IS NOT NULL"))
        batch_op.drop_index("ix_outbox_batches_due", postgresql_where=sa.text("status = 'pending'"))

    op.drop_table("outbox_batches")
    op.drop_table("campaign_openids")
    with op.batch_alter_table("campaign_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_audit_campaign_id"))

    op.drop_table("campaign_audit")
    op.drop_table("campaign_approvals")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("uq_outbox_idem_key", postgresql_where=sa.text("idem_key IS NOT NULL"))
        batch_op.drop_index("uq_outbox_campaign_user", postgresql_where=sa.text("campaign_id IS NOT NULL"))
        batch_op.drop_index("ix_outbox_waiting", postgresql_where=sa.text("status = 'waiting'"))
        batch_op.drop_index("ix_outbox_user_sent", postgresql_where=sa.text("status = 'sent'"))
        batch_op.drop_index("ix_outbox_msg_id", postgresql_where=sa.text("msg_id IS NOT NULL"))
        batch_op.drop_index("ix_outbox_due", postgresql_where=sa.text("status = 'pending'"))

    op.drop_table("outbox")
    op.drop_table("delivery_daily")
    op.drop_table("campaigns")
