"""Database tables (SQLAlchemy 2 declarative). Schema changes go through Alembic migrations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    """One person on one channel. Profile fields are kept to what the programmes need."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_users_channel_external_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    #: The person's id on the channel (a WeChat openid, a Telegram user id).
    external_id: Mapped[str] = mapped_column(String(64))
    subscribed: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The QR scene through which the user first followed ("" when none): campaign attribution.
    first_scene: Mapped[str] = mapped_column(String(64), default="")
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    subscribed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    street: Mapped[str] = mapped_column(String(16), default="")
