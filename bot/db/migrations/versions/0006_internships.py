"""展翅计划: internship posts with a jieba tsvector (GIN), applicants, applications, subscriptions

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        # Search lives in PostgreSQL (tsvector, GIN); SQLite, the embedded first run being
        # removed, gets no programme tables.
        return
    op.create_table(
        "internship_posts",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("post_id", sa.String(32), nullable=False, unique=True),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("company", sa.String(100), nullable=False),
        sa.Column("street", sa.String(16), nullable=False),
        sa.Column("industry", sa.String(32), nullable=False),
        sa.Column("majors", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("positions", sa.Integer(), nullable=False),
        sa.Column("pay", sa.String(64), nullable=False),
        sa.Column("pay_kind", sa.String(16), nullable=False),
        sa.Column("paid", sa.Boolean(), nullable=False),
        sa.Column("hmt_round", sa.Boolean(), nullable=False),
        sa.Column("season", sa.String(8), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("contact_email", sa.String(254), nullable=False),
        sa.Column("search", postgresql.TSVECTOR(), nullable=False),
        sa.Column("title_terms", postgresql.TSVECTOR(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("season IN ('寒假', '暑假', '学期中', '长期')", name="ck_internship_posts_season"),
        sa.CheckConstraint("status IN ('open', 'closed')", name="ck_internship_posts_status"),
        sa.CheckConstraint("pay_kind IN ('day', 'month', 'unpaid', 'negotiable')", name="ck_internship_posts_pay_kind"),
        sa.CheckConstraint("positions > 0", name="ck_internship_posts_positions"),
    )
    op.create_index("ix_internship_posts_search", "internship_posts", ["search"], postgresql_using="gin")
    op.create_index("ix_internship_posts_title_terms", "internship_posts", ["title_terms"], postgresql_using="gin")
    op.create_index(
        "ix_internship_posts_open", "internship_posts", ["deadline"], postgresql_where=sa.text("status = 'open'")
    )
    op.create_table(
        "internship_applicants",
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("mobile", sa.String(11), nullable=False),
        sa.Column("school", sa.String(64), nullable=False),
        sa.Column("major", sa.String(64), nullable=False),
        sa.Column("graduation_year", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("mobile ~ '^1[3-9][0-9]{9}$'", name="ck_internship_applicants_mobile"),
    )
    op.create_table(
        "internship_applications",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("post_id", sa.BigInteger(), sa.ForeignKey("internship_posts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("mobile", sa.String(11), nullable=False),
        sa.Column("school", sa.String(64), nullable=False),
        sa.Column("major", sa.String(64), nullable=False),
        sa.Column("graduation_year", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="submitted"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "post_id", name="uq_internship_applications_user_post"),
        sa.CheckConstraint(
            "status IN ('submitted', 'forwarded', 'interview', 'hired', 'declined', 'withdrawn')",
            name="ck_internship_applications_status",
        ),
    )
    op.create_index("ix_internship_applications_user_id", "internship_applications", ["user_id"])
    op.create_table(
        "internship_subscriptions",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("query", postgresql.TSQUERY(), nullable=True),
        sa.Column("street", sa.String(16), nullable=True),
        sa.Column("industry", sa.String(32), nullable=True),
        sa.Column("season", sa.String(8), nullable=True),
        sa.Column("hmt_round", sa.Boolean(), nullable=True),
        sa.Column("paid", sa.Boolean(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "label", name="uq_internship_subscriptions_user_label"),
    )
    op.create_index("ix_internship_subscriptions_user_id", "internship_subscriptions", ["user_id"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_table("internship_subscriptions")
    op.drop_table("internship_applications")
    op.drop_table("internship_applicants")
    op.drop_table("internship_posts")
