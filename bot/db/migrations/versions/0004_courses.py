"""courses: the night school's themes, classes, profiles, signups, signup events and reminders

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "course_themes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(32), nullable=False, unique=True),
        sa.Column("keywords", sa.String(200), nullable=False, server_default=""),
        sa.Column("summary", sa.Text(), nullable=False, server_default=""),
    )
    op.create_table(
        "course_classes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ref", sa.String(32), nullable=False, unique=True),
        sa.Column("theme_id", sa.Integer(), sa.ForeignKey("course_themes.id"), nullable=False),
        sa.Column("title", sa.String(64), nullable=False),
        sa.Column("teacher", sa.String(32), nullable=False),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("street", sa.String(16), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("checkin_code", sa.String(12), nullable=False, unique=True),
        sa.Column("status", sa.String(12), nullable=False, server_default="open"),
        sa.CheckConstraint("capacity > 0", name="ck_course_classes_capacity"),
        sa.CheckConstraint("ends_at > starts_at", name="ck_course_classes_times"),
        sa.CheckConstraint("status IN ('open', 'cancelled')", name="ck_course_classes_status"),
    )
    op.create_index("ix_course_classes_starts_at", "course_classes", ["starts_at"])
    op.create_table(
        "course_profiles",
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("mobile", sa.String(16), nullable=False),
        sa.Column("street", sa.String(16), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "course_signups",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("class_id", sa.Integer(), sa.ForeignKey("course_classes.id"), nullable=False),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("walk_in", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("checked_in_at", TS, nullable=True),
        sa.CheckConstraint(
            "status IN ('confirmed', 'waitlisted', 'cancelled', 'attended', 'no_show')",
            name="ck_course_signups_status",
        ),
    )
    # One live signup per person per class (a double tap or a retry cannot add a second one).
    op.create_index(
        "uq_course_signups_live",
        "course_signups",
        ["class_id", "user_id"],
        unique=True,
        postgresql_where=sa.text("status <> 'cancelled'"),
    )
    op.create_index("ix_course_signups_class_status", "course_signups", ["class_id", "status", "id"])
    op.create_index("ix_course_signups_user", "course_signups", ["user_id", "status"])
    op.create_table(
        "course_signup_events",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("signup_id", sa.BigInteger(), sa.ForeignKey("course_signups.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("cause", sa.String(32), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.CheckConstraint(
            "kind IN ('signed_up', 'waitlisted', 'promoted', 'cancelled', 'checked_in', 'walk_in', 'no_show')",
            name="ck_course_signup_events_kind",
        ),
    )
    op.create_index("ix_course_signup_events_signup", "course_signup_events", ["signup_id"])
    op.create_table(
        "course_reminders",
        sa.Column(
            "signup_id", sa.BigInteger(), sa.ForeignKey("course_signups.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("course_reminders")
    op.drop_index("ix_course_signup_events_signup", table_name="course_signup_events")
    op.drop_table("course_signup_events")
    op.drop_index("ix_course_signups_user", table_name="course_signups")
    op.drop_index("ix_course_signups_class_status", table_name="course_signups")
    op.drop_index("uq_course_signups_live", table_name="course_signups")
    op.drop_table("course_signups")
    op.drop_table("course_profiles")
    op.drop_index("ix_course_classes_starts_at", table_name="course_classes")
    op.drop_table("course_classes")
    op.drop_table("course_themes")
