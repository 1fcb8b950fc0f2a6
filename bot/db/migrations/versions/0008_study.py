"""study: 青年大学习 organisations, branches, memberships, episodes, completions, reminder sends and runs

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "study_orgs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("district", sa.String(32), nullable=False),
        sa.Column("street", sa.String(16), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.UniqueConstraint("district", "street", name="uq_study_orgs_district_street"),
    )
    op.create_table(
        "study_branches",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("org_id", sa.Integer(), sa.ForeignKey("study_orgs.id"), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False, server_default="0"),
        sa.CheckConstraint("members >= 0", name="ck_study_branches_members"),
    )
    op.create_table(
        "study_episodes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("number", sa.Integer(), nullable=False, unique=True),
        sa.Column("title", sa.String(128), nullable=False),
        sa.Column("link", sa.String(512), nullable=False),
        sa.Column("opens_at", _TS, nullable=False),
        sa.Column("closes_at", _TS, nullable=False),
        sa.CheckConstraint("closes_at > opens_at", name="ck_study_episodes_window"),
    )
    op.create_table(
        "study_memberships",
        sa.Column("id", _BIG, primary_key=True),
        sa.Column("user_id", _BIG, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("branch_id", sa.Integer(), sa.ForeignKey("study_branches.id"), nullable=False),
        sa.Column("name", sa.String(32), nullable=False, server_default=""),
        sa.Column("mobile", sa.String(16), nullable=False, server_default=""),
        sa.Column("member_no", sa.String(32), nullable=False, server_default=""),
        sa.Column("joined_at", _TS, nullable=False),
        sa.Column("left_at", _TS, nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("paused_episode_id", sa.Integer(), sa.ForeignKey("study_episodes.id"), nullable=True),
    )
    op.create_index(
        "uq_study_memberships_current",
        "study_memberships",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("left_at IS NULL"),
        sqlite_where=sa.text("left_at IS NULL"),
    )
    op.create_index("ix_study_memberships_branch", "study_memberships", ["branch_id"])
    op.create_table(
        "study_completions",
        sa.Column("id", _BIG, primary_key=True),
        sa.Column("episode_id", sa.Integer(), sa.ForeignKey("study_episodes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", _BIG, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("branch_id", sa.Integer(), sa.ForeignKey("study_branches.id"), nullable=False),
        sa.Column("self_reported_at", _TS, nullable=True),
        sa.Column("confirmed_at", _TS, nullable=True),
        sa.Column("official_time", sa.String(32), nullable=False, server_default=""),
        sa.UniqueConstraint("episode_id", "user_id", name="uq_study_completions_episode_user"),
        sa.CheckConstraint(
            "self_reported_at IS NOT NULL OR confirmed_at IS NOT NULL", name="ck_study_completions_recorded"
        ),
    )
    op.create_index("ix_study_completions_episode_branch", "study_completions", ["episode_id", "branch_id"])
    op.create_table(
        "study_reminder_sends",
        sa.Column("id", _BIG, primary_key=True),
        sa.Column("episode_id", sa.Integer(), sa.ForeignKey("study_episodes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", _BIG, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="claimed"),
        sa.Column("reason", sa.String(64), nullable=False, server_default=""),
        sa.Column("claimed_at", _TS, nullable=False),
        sa.UniqueConstraint("episode_id", "rule", "user_id", name="uq_study_reminder_sends_key"),
        sa.CheckConstraint("status IN ('claimed', 'sent', 'queued', 'dropped')", name="ck_study_reminder_sends_status"),
    )
    op.create_table(
        "study_rule_runs",
        sa.Column(
            "episode_id",
            sa.Integer(),
            sa.ForeignKey("study_episodes.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("rule", sa.String(32), primary_key=True),
        sa.Column("finished_at", _TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("study_rule_runs")
    op.drop_table("study_reminder_sends")
    op.drop_index("ix_study_completions_episode_branch", table_name="study_completions")
    op.drop_table("study_completions")
    op.drop_index("ix_study_memberships_branch", table_name="study_memberships")
    op.drop_index("uq_study_memberships_current", table_name="study_memberships")
    op.drop_table("study_memberships")
    op.drop_table("study_episodes")
    op.drop_table("study_branches")
    op.drop_table("study_orgs")
