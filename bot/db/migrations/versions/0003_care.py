"""care: the staff inbox (threads, messages) and the unanswered questions

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "care_threads",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("reason", sa.String(16), nullable=False, server_default="message"),
        sa.Column("status", sa.String(8), nullable=False, server_default="open"),
        sa.Column("hant", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('open', 'answered', 'closed')", name="ck_care_threads_status"),
        sa.CheckConstraint(
            "reason IN ('message', 'self_harm', 'abuse', 'bullying', 'danger')", name="ck_care_threads_reason"
        ),
        sa.CheckConstraint("(status = 'closed') = (closed_at IS NOT NULL)", name="ck_care_threads_closed_at"),
    )
    # One thread per person that is not closed: a second message joins it, even when two arrive at once.
    op.create_index(
        "uq_care_threads_active_user",
        "care_threads",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("status <> 'closed'"),
        sqlite_where=sa.text("status <> 'closed'"),
    )
    op.create_index("ix_care_threads_status_urgent", "care_threads", ["status", "urgent", "opened_at"])
    op.create_table(
        "care_messages",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("thread_id", sa.BigInteger(), sa.ForeignKey("care_threads.id", ondelete="CASCADE"), nullable=False),
        sa.Column("direction", sa.String(4), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivery", sa.String(48), nullable=False, server_default=""),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.CheckConstraint("direction IN ('in', 'out')", name="ck_care_messages_direction"),
    )
    op.create_index("ix_care_messages_thread", "care_messages", ["thread_id", "id"])
    op.create_table(
        "care_unanswered",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_hash", sa.String(32), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
    )
    op.create_index("ix_care_unanswered_asked_at", "care_unanswered", ["asked_at"])


def downgrade() -> None:
    op.drop_table("care_unanswered")
    op.drop_table("care_messages")
    op.drop_table("care_threads")
