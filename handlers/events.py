"""Platform events nobody answers: menu links and location reports (receipts never reach handlers).

Explicitly listed (as Zulip's webhooks list the events they ignore), so that a new event type
is visibly unknown rather than silently swallowed.
"""

from __future__ import annotations

from bot.context import Context
from bot.model import Inbound, Kind, Reply
from bot.router import Router
from bot.router.filters import Kinds

SILENT = (
    Kind.VIEW,  # the user opened a menu link; WeChat shows the page, a reply would be noise
    Kind.REPORT_LOCATION,  # sent every few seconds while the chat is open, when the user allowed it
)


def router() -> Router:
    r = Router("events")

    @r.on(Kinds(*SILENT))
    async def silent(msg: Inbound, ctx: Context) -> Reply:
        return Reply.nothing()

    return r
