"""Volunteering tables: teams, projects, shifts, signups, check-ins, the hours ledger, locations.

The rules that must hold under concurrency are the database's: one live signup per shift and
person (partial unique index), seats taken never above seats (CHECK on a counter moved by a
conditional UPDATE), one check-in per shift and person and at most one open check-in per person
(unique and partial unique indexes), one service entry per check-in (partial unique index), and
a ledger that refuses UPDATE and DELETE (a trigger, created by migration 0005).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base


class Team(Base):
    """An organiser: a neighbourhood or street volunteer team (543 in the district)."""

    __tablename__ = "volunteer_teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The team's key in imports and demo data ("bantian-01").
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    street: Mapped[str] = mapped_column(String(16))


class Project(Base):
    __tablename__ = "volunteer_projects"
    __table_args__ = (
        CheckConstraint("latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180", name="ck_vp_coordinates"),
        CheckConstraint("radius_m > 0", name="ck_vp_radius"),
        # The nearby search filters a bounding box on these before computing any distance.
        Index("ix_vp_lat_lng", "latitude", "longitude"),
        Index("ix_vp_street", "street"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("volunteer_teams.id"))
    title: Mapped[str] = mapped_column(String(80))
    street: Mapped[str] = mapped_column(String(16))
    place: Mapped[str] = mapped_column(String(120))
    #: GCJ-02, as WeChat reports a user's location.
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    #: A check-in with a recent location farther than this is refused.
    radius_m: Mapped[int] = mapped_column(Integer, default=500)
    bring: Mapped[str] = mapped_column(String(200), default="")
    summary: Mapped[str] = mapped_column(String(300), default="")


class Shift(Base):
    __tablename__ = "volunteer_shifts"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ck_vs_times"),
        CheckConstraint("seats >= 0 AND taken >= 0 AND taken <= seats", name="ck_vs_seats"),
        UniqueConstraint("project_id", "starts_at", name="uq_vs_project_start"),
        Index("ix_vs_starts_at", "starts_at"),
        Index("ix_vs_ends_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("volunteer_projects.id"))
    #: The short code on the site's poster (6 digits): 「签到 381204」 or the code alone.
    code: Mapped[str] = mapped_column(String(8), unique=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seats: Mapped[int] = mapped_column(Integer)
    #: Live signups plus walk-ins; moved only by conditional UPDATEs, bounded by the CHECK.
    taken: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Signup(Base):
    __tablename__ = "volunteer_signups"
    __table_args__ = (
        Index(
            "uq_vsu_live",
            "shift_id",
            "user_id",
            unique=True,
            postgresql_where=text("cancelled_at IS NULL"),
        ),
        Index("ix_vsu_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("volunteer_shifts.id"))
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CheckIn(Base):
    __tablename__ = "volunteer_checkins"
    __table_args__ = (
        UniqueConstraint("shift_id", "user_id", name="uq_vci_shift_user"),
        # A person is at one site at a time: a second check-in while one is open is refused.
        Index("uq_vci_open", "user_id", unique=True, postgresql_where=text("checked_out_at IS NULL")),
        CheckConstraint("checked_out_at IS NULL OR checked_out_at >= checked_in_at", name="ck_vci_times"),
        Index("ix_vci_open_shift", "shift_id", postgresql_where=text("checked_out_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("volunteer_shifts.id"))
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    checked_in_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    checked_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: How the check-in came: "qr" (a scan) or "code" (the short code typed).
    via: Mapped[str] = mapped_column(String(8))
    #: True when a location of the last minutes placed the volunteer within the project's radius.
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    distance_m: Mapped[int | None] = mapped_column(Integer, nullable=True)
    walk_in: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Closed by the job at the shift's end because the volunteer forgot to check out.
    auto_closed: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")


class LedgerEntry(Base):
    """One line of the hours ledger. Never updated or deleted: a correction is a new line."""

    __tablename__ = "volunteer_ledger"
    __table_args__ = (
        CheckConstraint("kind IN ('service', 'correction')", name="ck_vl_kind"),
        CheckConstraint(
            "(kind = 'service' AND checkin_id IS NOT NULL AND hours >= 0) "
            "OR (kind = 'correction' AND reason <> '' AND author <> '')",
            name="ck_vl_shape",
        ),
        Index("uq_vl_service", "checkin_id", unique=True, postgresql_where=text("kind = 'service'")),
        # 「我的时长」 reads a person's entries newest first; the included columns spare the heap.
        Index("ix_vl_user", "user_id", "served_on", postgresql_include=["hours", "project_id"]),
        Index("ix_vl_served_on", "served_on"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(12))
    hours: Mapped[Decimal] = mapped_column(Numeric(7, 2))
    checkin_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("volunteer_checkins.id"), nullable=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_projects.id"), nullable=True)
    #: The day the service was done (the shift's local date), what the records system files it under.
    served_on: Mapped[date] = mapped_column(Date)
    #: For a service entry, the clipped times the hours were computed from.
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(64), default="")
    #: The entry a correction amends (None for a service entry or a free-standing correction).
    corrects_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("volunteer_ledger.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Volunteer(Base):
    """What the national records system needs of a person: name and ID number. The number is kept
    sealed (``bot.sealing``), opened only for the export's ``--full-id``; everywhere else it is
    shown masked, from the masked copy, without the key."""

    __tablename__ = "volunteer_profiles"

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    id_sealed: Mapped[str] = mapped_column(Text)
    id_masked: Mapped[str] = mapped_column(String(18))
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LastLocation(Base):
    """The last location a person shared (message or LOCATION event); read only while recent."""

    __tablename__ = "volunteer_locations"

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), primary_key=True)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
