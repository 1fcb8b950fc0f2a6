"""The conversation of 展翅计划: results being browsed, and the flows of applying and unsubscribing.

Browsing is not a flow: results on screen are kept in the session's data (``RESULTS``) without a
state, answer numbers and 「更多」 for ``BROWSE_SECONDS``, then silently stop. A flow's timeout
would tell the person 「已超时」 on their next message, about a list they had simply left.
"""

from __future__ import annotations

import contextlib
from typing import Any

from bot.context import Context
from bot.errors import Unavailable
from bot.model import Inbound
from bot.session.base import State, StatesGroup

#: Session data key of the results being browsed: ids, total, page, label, post (the open detail), at.
RESULTS = "internship_results"
BROWSE_SECONDS = 1800


def results(ctx: Context) -> dict[str, Any] | None:
    """The results being browsed, if the person is browsing (no flow waiting, not gone stale)."""
    if ctx.session.state is not None:
        return None
    found = ctx.session.data.get(RESULTS)
    if isinstance(found, dict) and ctx.now() - float(found.get("at", 0)) < BROWSE_SECONDS:
        return found
    return None


def show(ctx: Context, **data: Any) -> None:
    """Keep these results for browsing (replacing any flow's data). Without the session store the
    results are still shown; only numbers and 「更多」 will not find them."""
    ctx.finish()
    with contextlib.suppress(Unavailable):
        ctx.update(**{RESULTS: {**data, "at": ctx.now()}})


def note(ctx: Context, **changes: Any) -> None:
    """Change the results being browsed (the page, the open post); browsing goes on."""
    current = results(ctx) or {}
    ctx.update(**{RESULTS: {**current, **changes, "at": ctx.now()}})


def stop(ctx: Context) -> None:
    ctx.finish()


class Browsing:
    """The person is browsing results."""

    def __call__(self, msg: Inbound, ctx: Context) -> bool:
        return results(ctx) is not None


class InternshipApply(StatesGroup):
    title_key = "flows.internship_apply"
    name = State()
    mobile = State()
    school = State()
    major = State()
    year = State()
    confirm = State()


class InternshipUnsubscribe(StatesGroup):
    title_key = "flows.internship_unsubscribe"
    quiet = True
    #: Data: ids (subscription ids in the order listed).
    choosing = State()


class InternshipWithdraw(StatesGroup):
    title_key = "flows.internship_withdraw"
    quiet = True
    #: Data: post ids of the withdrawable applications, in the order listed.
    choosing = State()


APPLY_STATES = (
    InternshipApply.name,
    InternshipApply.mobile,
    InternshipApply.school,
    InternshipApply.major,
    InternshipApply.year,
    InternshipApply.confirm,
)
ALL_STATES = (*APPLY_STATES, InternshipUnsubscribe.choosing)
