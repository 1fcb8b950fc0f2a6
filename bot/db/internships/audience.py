"""展翅计划's campaign audience: the keyword subscribers (``--audience subscribers`` or ``subscribers:设计``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.outbox.audiences import register


def _subscribers(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Everyone with a subscription; with ``keyword``, those whose subscription names it (「坂田 · 设计」)."""
    keyword = str(params.get("keyword", "")).strip()
    if keyword:
        return "SELECT user_id FROM internship_subscriptions WHERE position(:kw in label) > 0", {"kw": keyword}
    return "SELECT user_id FROM internship_subscriptions", {}


register("internships.subscribers", _subscribers)
