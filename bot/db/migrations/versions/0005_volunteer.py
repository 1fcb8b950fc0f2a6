"""volunteering: teams, projects, shifts, signups, check-ins, the append-only hours ledger

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION volunteer_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'volunteer_ledger is append-only: record a correction instead'
    USING ERRCODE = 'restrict_violation';
END $$
"""
APPEND_ONLY_TRIGGER = """
CREATE TRIGGER volunteer_ledger_append_only BEFORE UPDATE OR DELETE ON volunteer_ledger
FOR EACH ROW EXECUTE FUNCTION volunteer_ledger_append_only()
"""


def upgrade() -> None:
    op.create_table(
        "volunteer_teams",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("street", sa.String(16), nullable=False),
    )
    op.create_table(
        "volunteer_projects",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("volunteer_teams.id"), nullable=False),
        sa.Column("title", sa.String(80), nullable=False),
        sa.Column("street", sa.String(16), nullable=False),
        sa.Column("place", sa.String(120), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("radius_m", sa.Integer(), nullable=False),
        sa.Column("bring", sa.String(200), nullable=False, server_default=""),
        sa.Column("summary", sa.String(300), nullable=False, server_default=""),
        sa.CheckConstraint("latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180", name="ck_vp_coordinates"),
        sa.CheckConstraint("radius_m > 0", name="ck_vp_radius"),
    )
    op.create_index("ix_vp_lat_lng", "volunteer_projects", ["latitude", "longitude"])
    op.create_index("ix_vp_street", "volunteer_projects", ["street"])
    op.create_table(
        "volunteer_shifts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("volunteer_projects.id"), nullable=False),
        sa.Column("code", sa.String(8), nullable=False, unique=True),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False, server_default="0"),
        sa.CheckConstraint("ends_at > starts_at", name="ck_vs_times"),
        sa.CheckConstraint("seats >= 0 AND taken >= 0 AND taken <= seats", name="ck_vs_seats"),
        sa.UniqueConstraint("project_id", "starts_at", name="uq_vs_project_start"),
    )
    op.create_index("ix_vs_starts_at", "volunteer_shifts", ["starts_at"])
    op.create_index("ix_vs_ends_at", "volunteer_shifts", ["ends_at"])
    op.create_table(
        "volunteer_signups",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("shift_id", sa.Integer(), sa.ForeignKey("volunteer_shifts.id"), nullable=False),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("cancelled_at", TS, nullable=True),
    )
    op.create_index(
        "uq_vsu_live",
        "volunteer_signups",
        ["shift_id", "user_id"],
        unique=True,
        postgresql_where=sa.text("cancelled_at IS NULL"),
    )
    op.create_index("ix_vsu_user", "volunteer_signups", ["user_id"])
    op.create_table(
        "volunteer_checkins",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("shift_id", sa.Integer(), sa.ForeignKey("volunteer_shifts.id"), nullable=False),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("checked_in_at", TS, nullable=False),
        sa.Column("checked_out_at", TS, nullable=True),
        sa.Column("via", sa.String(8), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("distance_m", sa.Integer(), nullable=True),
        sa.Column("walk_in", sa.Boolean(), nullable=False),
        sa.Column("auto_closed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.UniqueConstraint("shift_id", "user_id", name="uq_vci_shift_user"),
        sa.CheckConstraint("checked_out_at IS NULL OR checked_out_at >= checked_in_at", name="ck_vci_times"),
    )
    op.create_index(
        "uq_vci_open",
        "volunteer_checkins",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("checked_out_at IS NULL"),
    )
    op.create_index(
        "ix_vci_open_shift", "volunteer_checkins", ["shift_id"], postgresql_where=sa.text("checked_out_at IS NULL")
    )
    op.create_table(
        "volunteer_ledger",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("hours", sa.Numeric(7, 2), nullable=False),
        sa.Column("checkin_id", sa.BigInteger(), sa.ForeignKey("volunteer_checkins.id"), nullable=True),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("volunteer_projects.id"), nullable=True),
        sa.Column("served_on", sa.Date(), nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("author", sa.String(64), nullable=False, server_default=""),
        sa.Column("corrects_id", sa.BigInteger(), sa.ForeignKey("volunteer_ledger.id"), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("kind IN ('service', 'correction')", name="ck_vl_kind"),
        sa.CheckConstraint(
            "(kind = 'service' AND checkin_id IS NOT NULL AND hours >= 0) "
            "OR (kind = 'correction' AND reason <> '' AND author <> '')",
            name="ck_vl_shape",
        ),
    )
    op.create_index(
        "uq_vl_service", "volunteer_ledger", ["checkin_id"], unique=True, postgresql_where=sa.text("kind = 'service'")
    )
    op.create_index(
        "ix_vl_user", "volunteer_ledger", ["user_id", "served_on"], postgresql_include=["hours", "project_id"]
    )
    op.create_index("ix_vl_served_on", "volunteer_ledger", ["served_on"])
    # Append-only, by the database: an UPDATE or DELETE of a ledger line fails whoever sends it.
    # (TRUNCATE, which the tests use between cases, fires no row trigger.) PostgreSQL only: the
    # embedded SQLite first run, on its way out, gets the tables without the guard.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_FUNCTION)
        op.execute(APPEND_ONLY_TRIGGER)
    op.create_table(
        "volunteer_profiles",
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("id_number", sa.String(18), nullable=False),
        sa.Column("registered_at", TS, nullable=False),
    )
    op.create_table(
        "volunteer_locations",
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("volunteer_locations")
    op.drop_table("volunteer_profiles")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER volunteer_ledger_append_only ON volunteer_ledger")
        op.execute("DROP FUNCTION volunteer_ledger_append_only()")
    op.drop_table("volunteer_ledger")
    op.drop_table("volunteer_checkins")
    op.drop_table("volunteer_signups")
    op.drop_table("volunteer_shifts")
    op.drop_table("volunteer_projects")
    op.drop_table("volunteer_teams")
