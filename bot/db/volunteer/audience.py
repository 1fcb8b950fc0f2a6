"""Volunteering's campaign audience: a project's volunteers (``--audience project:7``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.outbox.audiences import number, register


def _project(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Who signed up for one of the project's shifts (and did not cancel), or checked in to one."""
    return (
        "SELECT s.user_id FROM volunteer_signups s JOIN volunteer_shifts h ON h.id = s.shift_id"
        " WHERE h.project_id = :project_id AND s.cancelled_at IS NULL"
        " UNION SELECT c.user_id FROM volunteer_checkins c JOIN volunteer_shifts h ON h.id = c.shift_id"
        " WHERE h.project_id = :project_id",
        {"project_id": number(params, "project", "project:7")},
    )


register("volunteer.project", _project)
