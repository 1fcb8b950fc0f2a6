"""Conversation state stores (Redis in production, memory for a first run)."""

from bot.session.base import PENDING, Begin, Session, SessionKey, State, StatesGroup, Store

__all__ = ["PENDING", "Begin", "Session", "SessionKey", "State", "StatesGroup", "Store"]
