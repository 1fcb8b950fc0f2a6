"""The handlers, in priority order: the first router that answers wins; the fallback is last."""

from __future__ import annotations

from bot.content import Content
from bot.router import Router
from bot.text import Analyzer
from handlers import delivery, events, faq, menu, profile, welcome


def build_router(content: Content, analyzer: Analyzer) -> Router:
    root = Router("root")
    # A conversation waiting for an answer comes first, so "3" or "坂田" reaches the flow.
    root.include(profile.router(content))
    root.include(delivery.router(content, analyzer))
    root.include(welcome.router(content))
    root.include(events.router())
    root.include(menu.router(content))
    root.include(faq.router(content, analyzer))
    return root
