"""青年大学习 tables: organisations, branches, memberships, episodes, completions, reminder sends.

A member is a ``users`` row bound to a branch through a membership; a change of branch closes
the old membership (``left_at``) and opens a new one, so the history stays. A completion keeps
the branch the member belonged to when it was recorded: a later move does not rewrite a past
episode's ratio.
"""

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
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base


class StudyOrg(Base):
    """A street's league committee (团工委): the organisation above a branch, inside the district."""

    __tablename__ = "study_orgs"
    __table_args__ = (UniqueConstraint("district", "street", name="uq_study_orgs_district_street"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district: Mapped[str] = mapped_column(String(32))
    street: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))


class StudyBranch(Base):
    """A 团支部. ``members`` is the roster size the organisation declares (the ratio's denominator)."""

    __tablename__ = "study_branches"
    __table_args__ = (CheckConstraint("members >= 0", name="ck_study_branches_members"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: What members send or scan (``branch-<code>``); upper case.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    org_id: Mapped[int] = mapped_column(ForeignKey("study_orgs.id"))
    members: Mapped[int] = mapped_column(Integer, default=0)


class StudyMembership(Base):
    """A user in a branch from ``joined_at`` until ``left_at``; at most one open membership a user."""

    __tablename__ = "study_memberships"
    __table_args__ = (
        Index(
            "uq_study_memberships_current",
            "user_id",
            unique=True,
            postgresql_where=text("left_at IS NULL"),
        ),
        Index("ix_study_memberships_branch", "branch_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    branch_id: Mapped[int] = mapped_column(ForeignKey("study_branches.id"))
    #: The name and mobile the member gave, to find them in the League's official list.
    name: Mapped[str] = mapped_column(String(32), default="")
    mobile: Mapped[str] = mapped_column(String(16), default="")
    #: The League's member id (团员编号), when the member gave it.
    member_no: Mapped[str] = mapped_column(String(32), default="")
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: Reminders paused until resumed (``paused``) or for one episode only (``paused_episode_id``).
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_episode_id: Mapped[int | None] = mapped_column(ForeignKey("study_episodes.id"), nullable=True)


class StudyEpisode(Base):
    """One 期 of 青年大学习: open from ``opens_at`` until ``closes_at``."""

    __tablename__ = "study_episodes"
    __table_args__ = (CheckConstraint("closes_at > opens_at", name="ck_study_episodes_window"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(128))
    link: Mapped[str] = mapped_column(String(512))
    opens_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closes_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StudyCompletion(Base):
    """A member's completion of an episode: self-reported, confirmed by the official list, or both."""

    __tablename__ = "study_completions"
    __table_args__ = (
        UniqueConstraint("episode_id", "user_id", name="uq_study_completions_episode_user"),
        CheckConstraint(
            "self_reported_at IS NOT NULL OR confirmed_at IS NOT NULL", name="ck_study_completions_recorded"
        ),
        Index("ix_study_completions_episode_branch", "episode_id", "branch_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger(), primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("study_episodes.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    branch_id: Mapped[int] = mapped_column(ForeignKey("study_branches.id"))
    self_reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: When the official list was imported with this member on it; None while only self-reported.
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: The study time the official list gives, as written there.
    official_time: Mapped[str] = mapped_column(String(32), default="")


class StudyReminderSend(Base):
    """One reminder rule's claim on one member for one episode: the idempotency key of a send.

    The key's columns run (episode, rule, member): a run marks and checks the members of one
    episode and rule, which the index then finds directly instead of filtering every send.
    """

    __tablename__ = "study_reminder_sends"
    __table_args__ = (
        UniqueConstraint("episode_id", "rule", "user_id", name="uq_study_reminder_sends_key"),
        CheckConstraint("status IN ('claimed', 'sent', 'queued', 'dropped')", name="ck_study_reminder_sends_status"),
    )

    id: Mapped[int] = mapped_column(BigInteger(), primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("study_episodes.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="claimed")
    reason: Mapped[str] = mapped_column(String(64), default="")
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StudyRuleRun(Base):
    """A reminder rule that has reached every member it could for an episode: later ticks skip it.

    Without it, every five-minute tick of the rule's window would walk all members again only
    to find each one claimed already.
    """

    __tablename__ = "study_rule_runs"

    episode_id: Mapped[int] = mapped_column(ForeignKey("study_episodes.id", ondelete="CASCADE"), primary_key=True)
    rule: Mapped[str] = mapped_column(String(32), primary_key=True)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
