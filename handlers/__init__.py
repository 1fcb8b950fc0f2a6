"""The handlers, in priority order: the first router that answers wins; the fallback is last."""

from __future__ import annotations

from bot.content import Content
from bot.router import Router
from bot.text import Analyzer
from handlers import care, courses, events, faq, internships, menu, profile, study, volunteer, welcome


def build_router(content: Content, analyzer: Analyzer) -> Router:
    root = Router("root")
    # Crisis words before everything, inside any flow too; then the staff-inbox flow.
    root.include(care.safety(content, analyzer))
    # A conversation waiting for an answer comes first, so "3" or "坂田" reaches the flow.
    root.include(profile.router(content))
    root.include(courses.router(content, analyzer))
    root.include(volunteer.router(content, analyzer))
    root.include(internships.router(content, analyzer))
    root.include(study.router(content, analyzer))
    # 「人工」, small talk, 「取消」 with nothing running, English: after every programme's flows.
    root.include(care.router(content, analyzer))
    root.include(welcome.router(content))
    root.include(events.router())
    root.include(menu.router(content))
    root.include(faq.router(content, analyzer))
    return root
