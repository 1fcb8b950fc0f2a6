"""users: one row per person per channel

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("openid", sa.String(64), nullable=False),
        sa.Column("subscribed", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("first_scene", sa.String(64), nullable=False, server_default=""),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("street", sa.String(16), nullable=False, server_default=""),
        sa.UniqueConstraint("channel", "openid", name="uq_users_channel_openid"),
    )
    op.create_index("ix_users_last_seen", "users", ["last_seen"])


def downgrade() -> None:
    op.drop_index("ix_users_last_seen", table_name="users")
    op.drop_table("users")
