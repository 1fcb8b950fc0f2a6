"""Platform events nobody answers: menu links, location reports, delivery receipts.

Explicitly listed (as Zulip's webhooks list the events they ignore), so that a new event type
is visibly unknown rather than silently swallowed.
"""

from __future__ import annotations

import logging

from bot.context import Context
from bot.model import Inbound, Kind, Reply
from bot.router import Router
from bot.router.filters import Kinds

log = logging.getLogger("longtuan.events")

SILENT = (
    Kind.VIEW,  # the user opened a menu link; WeChat shows the page, a reply would be noise
    Kind.REPORT_LOCATION,  # sent every few seconds while the chat is open, when the user allowed it
    Kind.TEMPLATE_SENT,
    Kind.MASS_SENT,
    Kind.SUBSCRIBE_MSG_POPUP,
    Kind.SUBSCRIBE_MSG_CHANGE,
    Kind.SUBSCRIBE_MSG_SENT,
)


def router() -> Router:
    r = Router("events")

    @r.on(Kinds(*SILENT))
    async def silent(msg: Inbound, ctx: Context) -> Reply:
        if msg.kind in (Kind.TEMPLATE_SENT, Kind.MASS_SENT, Kind.SUBSCRIBE_MSG_SENT):
            # Delivery receipts: kept in the log until the delivery engine records them itself.
            log.info("delivery receipt", extra={"kind": msg.kind.value, "job": msg.key, **msg.extra})
        return Reply.nothing()

    return r
