"""courses: the night school's themes, classes, profiles, signups, signup events and reminders

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
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

    if op.get_bind().dialect.name == "postgresql":  # SQLite, on its way out, gets the tables only
        op.execute(SIGN_UP_FUNCTION)


#: Signing up in one statement, so that it can run on its own (autocommit): the class row lock is
#: then held only while the server runs it, never across a round trip to a busy client. Each SQL
#: command of a VOLATILE function takes a fresh snapshot under READ COMMITTED, so the count after
#: the lock sees what the previous holder committed. The seat rule is the one of
#: bot/db/courses/signups.py (a seat if one is free and nobody waits); ids are the arrival order.
SIGN_UP_FUNCTION = """
CREATE FUNCTION course_sign_up(p_class integer, p_user bigint, p_at timestamptz, p_cause text)
RETURNS TABLE (signup_id bigint, outcome text, waiting_position bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_capacity integer;
  v_status text;
  v_starts timestamptz;
  v_seated bigint;
  v_waiting bigint;
  v_new text;
  v_id bigint;
BEGIN
  -- The commit does not wait for the disk while the lock is held; see signups.lock_class.
  PERFORM set_config('synchronous_commit', 'off', true);
  SELECT c.capacity, c.status, c.starts_at INTO v_capacity, v_status, v_starts
  FROM course_classes c WHERE c.id = p_class FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 0::bigint, 'missing'::text, 0::bigint;
    RETURN;
  END IF;
  IF v_status <> 'open' THEN
    RETURN QUERY SELECT 0::bigint, 'closed'::text, 0::bigint;
    RETURN;
  END IF;
  IF v_starts <= p_at THEN
    RETURN QUERY SELECT 0::bigint, 'started'::text, 0::bigint;
    RETURN;
  END IF;
  SELECT count(*) FILTER (WHERE s.status IN ('confirmed', 'attended')),
         count(*) FILTER (WHERE s.status = 'waitlisted')
  INTO v_seated, v_waiting
  FROM course_signups s WHERE s.class_id = p_class;
  v_new := CASE WHEN v_seated < v_capacity AND v_waiting = 0 THEN 'confirmed' ELSE 'waitlisted' END;
  INSERT INTO course_signups (class_id, user_id, status, walk_in, created_at, updated_at)
  VALUES (p_class, p_user, v_new, FALSE, p_at, p_at)
  ON CONFLICT (class_id, user_id) WHERE status <> 'cancelled' DO NOTHING
  RETURNING id INTO v_id;
  IF v_id IS NULL THEN
    RETURN QUERY SELECT s.id, 'already'::text, 0::bigint FROM course_signups s
                 WHERE s.class_id = p_class AND s.user_id = p_user AND s.status <> 'cancelled';
    RETURN;
  END IF;
  INSERT INTO course_signup_events (signup_id, kind, cause, at)
  VALUES (v_id, CASE WHEN v_new = 'confirmed' THEN 'signed_up' ELSE 'waitlisted' END, p_cause, p_at);
  RETURN QUERY SELECT v_id, v_new, CASE WHEN v_new = 'waitlisted' THEN v_waiting + 1 ELSE 0 END;
END
$$
"""


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION course_sign_up(integer, bigint, timestamptz, text)")
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
