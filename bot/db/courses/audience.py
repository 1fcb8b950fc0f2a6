"""The night school's campaign audience: a class's attendees (``--audience class:12``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.outbox.audiences import number, register


def _class(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Who holds a seat in the class (confirmed, or checked in, walk-ins too); ``waitlist=yes`` adds those waiting."""
    statuses = ["confirmed", "attended"] + (["waitlisted"] if str(params.get("waitlist", "")) == "yes" else [])
    return (
        "SELECT user_id FROM course_signups WHERE class_id = :class_id AND status = ANY(:statuses)",
        {"class_id": number(params, "class", "class:12"), "statuses": statuses},
    )


register("courses.class", _class)
