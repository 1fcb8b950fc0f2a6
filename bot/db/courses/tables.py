"""Night-school tables: themes, classes, the signups on them, every change of a signup, sent reminders."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base

#: Signup statuses. A seat is held by ``confirmed`` and ``attended``; ``waitlisted`` waits in
#: arrival order (the signup id, assigned under the class's row lock); the rest is history.
CONFIRMED, WAITLISTED, CANCELLED, ATTENDED, NO_SHOW = "confirmed", "waitlisted", "cancelled", "attended", "no_show"
SEATED = (CONFIRMED, ATTENDED)
#: Statuses of a live signup: a person holds at most one of these per class.
LIVE = (CONFIRMED, WAITLISTED, ATTENDED, NO_SHOW)

#: Event kinds: every change of a signup is one row of ``course_signup_events``.
SIGNED_UP, QUEUED, PROMOTED, CANCEL, CHECKED_IN, WALK_IN, MARKED_NO_SHOW = (
    "signed_up",
    "waitlisted",
    "promoted",
    "cancelled",
    "checked_in",
    "walk_in",
    "no_show",
)


class CourseTheme(Base):
    """One of the night school's themed courses (手机摄影, 咖啡拉花 ...)."""

    __tablename__ = "course_themes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    #: Words that name the theme in a message besides its name ("摄影 拍照"), space-separated.
    keywords: Mapped[str] = mapped_column(String(200), default="")
    summary: Mapped[str] = mapped_column(Text, default="")


class CourseClass(Base):
    """One class of a theme: when, where, who teaches, how many seats."""

    __tablename__ = "course_classes"
    __table_args__ = (
        CheckConstraint("capacity > 0", name="ck_course_classes_capacity"),
        CheckConstraint("ends_at > starts_at", name="ck_course_classes_times"),
        CheckConstraint("status IN ('open', 'cancelled')", name="ck_course_classes_status"),
        Index("ix_course_classes_starts_at", "starts_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The cadres' own key of the class (the import's 编号): the same file again changes nothing.
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    theme_id: Mapped[int] = mapped_column(ForeignKey("course_themes.id"))
    title: Mapped[str] = mapped_column(String(64))
    teacher: Mapped[str] = mapped_column(String(32))
    venue: Mapped[str] = mapped_column(String(64))
    street: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    capacity: Mapped[int] = mapped_column(Integer)
    #: The short code said in the room to check in ("YX4821").
    checkin_code: Mapped[str] = mapped_column(String(12), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="open")


class CourseProfile(Base):
    """What the night school needs of a person, asked once and reused: name, mobile, street."""

    __tablename__ = "course_profiles"

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    #: Normalised: 11 digits (mainland), or +852 / +853 and 8 digits, or 8 digits as typed.
    mobile: Mapped[str] = mapped_column(String(16))
    street: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CourseSignup(Base):
    """A person's place in a class: a seat, a waitlist place, or what became of it."""

    __tablename__ = "course_signups"
    __table_args__ = (
        CheckConstraint(
            "status IN ('confirmed', 'waitlisted', 'cancelled', 'attended', 'no_show')",
            name="ck_course_signups_status",
        ),
        # One live signup per person per class; cancelled ones stay as history.
        Index(
            "uq_course_signups_live",
            "class_id",
            "user_id",
            unique=True,
            postgresql_where=text("status <> 'cancelled'"),
        ),
        Index("ix_course_signups_class_status", "class_id", "status", "id"),
        Index("ix_course_signups_user", "user_id", "status"),
    )

    #: Assigned under the class's row lock: the waitlist's arrival order.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("course_classes.id"))
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(12))
    walk_in: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CourseSignupEvent(Base):
    """One change of a signup, with its time and cause (``user``, ``scan``, ``code``, ``job``, ``cancel:<id>`` ...)."""

    __tablename__ = "course_signup_events"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('signed_up', 'waitlisted', 'promoted', 'cancelled', 'checked_in', 'walk_in', 'no_show')",
            name="ck_course_signup_events_kind",
        ),
        Index("ix_course_signup_events_signup", "signup_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    signup_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("course_signups.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    cause: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CourseReminder(Base):
    """A reminder sent for a signup; the primary key makes each one go out once."""

    __tablename__ = "course_reminders"

    signup_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("course_signups.id", ondelete="CASCADE"), primary_key=True
    )
    #: ``day`` (the evening before) or ``soon`` (two hours before).
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
