"""users.openid becomes the channel-neutral external_id

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("users", "openid", new_column_name="external_id")
    op.execute("ALTER TABLE users RENAME CONSTRAINT uq_users_channel_openid TO uq_users_channel_external_id")


def downgrade() -> None:
    op.execute("ALTER TABLE users RENAME CONSTRAINT uq_users_channel_external_id TO uq_users_channel_openid")
    op.alter_column("users", "external_id", new_column_name="openid")
