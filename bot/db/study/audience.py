"""青年大学习's campaign audience: the members of a 团支部 (``--audience branch:CODE``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.errors import ConfigError
from bot.outbox.audiences import register


def _branch(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The branch's current members (bound and not left)."""
    code = str(params.get("branch", "")).strip().upper()
    if not code:
        raise ConfigError("受众 branch 后面要写团支部的支部码，比如 branch:LG0101")
    return (
        "SELECT m.user_id FROM study_memberships m JOIN study_branches b ON b.id = m.branch_id"
        " WHERE b.code = :code AND m.left_at IS NULL",
        {"code": code},
    )


register("study.branch", _branch)
