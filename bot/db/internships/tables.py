"""The tables of 展翅计划: posts, applicant profiles, applications and keyword subscriptions."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base

SEASONS = ("寒假", "暑假", "学期中", "长期")
PAY_KINDS = ("day", "month", "unpaid", "negotiable")
APPLICATION_STATUSES = ("submitted", "forwarded", "interview", "hired", "declined", "withdrawn")


class InternshipPost(Base):
    """One post as the file describes it, plus its jieba search vector (``search``)."""

    __tablename__ = "internship_posts"
    __table_args__ = (
        CheckConstraint("season IN ('寒假', '暑假', '学期中', '长期')", name="ck_internship_posts_season"),
        CheckConstraint("status IN ('open', 'closed')", name="ck_internship_posts_status"),
        CheckConstraint("pay_kind IN ('day', 'month', 'unpaid', 'negotiable')", name="ck_internship_posts_pay_kind"),
        CheckConstraint("positions > 0", name="ck_internship_posts_positions"),
        Index("ix_internship_posts_search", "search", postgresql_using="gin"),
        Index("ix_internship_posts_title_terms", "title_terms", postgresql_using="gin"),
        Index("ix_internship_posts_open", "deadline", postgresql_where="status = 'open'"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: The programme's own key (ZC2024-001): re-imports update by it.
    post_id: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(100))
    company: Mapped[str] = mapped_column(String(100))
    street: Mapped[str] = mapped_column(String(16))
    industry: Mapped[str] = mapped_column(String(32))
    #: Preferred majors, ``;``-separated as in the file; ``不限专业`` means any.
    majors: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    positions: Mapped[int] = mapped_column(Integer)
    pay: Mapped[str] = mapped_column(String(64))
    pay_kind: Mapped[str] = mapped_column(String(16))
    #: True unless the post is unpaid (无薪); 面议 counts as paid.
    paid: Mapped[bool] = mapped_column(Boolean)
    hmt_round: Mapped[bool] = mapped_column(Boolean)
    season: Mapped[str] = mapped_column(String(8))
    start_date: Mapped[date] = mapped_column(Date)
    deadline: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8))
    contact_email: Mapped[str] = mapped_column(String(254))
    #: jieba tokens with their synonyms' canonical words, weighted by field (title A ... company D), and
    #: the filter values as facets (「街道=坂田」).
    search: Mapped[str] = mapped_column(TSVECTOR)
    #: The title's terms only, and the filter facets: the search's first tier.
    title_terms: Mapped[str] = mapped_column(TSVECTOR)
    #: A digest of the imported fields: an unchanged row is not written again.
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class InternshipApplicant(Base):
    """What employers need from a person, collected once and reused (with confirmation)."""

    __tablename__ = "internship_applicants"
    __table_args__ = (CheckConstraint("mobile ~ '^1[3-9][0-9]{9}$'", name="ck_internship_applicants_mobile"),)

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    mobile: Mapped[str] = mapped_column(String(11))
    school: Mapped[str] = mapped_column(String(64))
    major: Mapped[str] = mapped_column(String(64))
    graduation_year: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class InternshipApplication(Base):
    """One person's application to one post; the unique key refuses a second one."""

    __tablename__ = "internship_applications"
    __table_args__ = (
        UniqueConstraint("user_id", "post_id", name="uq_internship_applications_user_post"),
        CheckConstraint(
            "status IN ('submitted', 'forwarded', 'interview', 'hired', 'declined', 'withdrawn')",
            name="ck_internship_applications_status",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    post_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("internship_posts.id", ondelete="CASCADE"))
    # What was sent, as it was then: the profile may change later.
    name: Mapped[str] = mapped_column(String(32))
    mobile: Mapped[str] = mapped_column(String(11))
    school: Mapped[str] = mapped_column(String(64))
    major: Mapped[str] = mapped_column(String(64))
    graduation_year: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class InternshipSubscription(Base):
    """A keyword subscription: new posts matching ``query`` and the filters are announced."""

    __tablename__ = "internship_subscriptions"
    __table_args__ = (UniqueConstraint("user_id", "label", name="uq_internship_subscriptions_user_label"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: What was understood, as the user reads it back (「坂田 · 设计」).
    label: Mapped[str] = mapped_column(String(100))
    #: The keywords as a tsquery (NULL: filters only).
    query: Mapped[str | None] = mapped_column(TSQUERY, nullable=True)
    street: Mapped[str | None] = mapped_column(String(16), nullable=True)
    industry: Mapped[str | None] = mapped_column(String(32), nullable=True)
    season: Mapped[str | None] = mapped_column(String(8), nullable=True)
    hmt_round: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    paid: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
