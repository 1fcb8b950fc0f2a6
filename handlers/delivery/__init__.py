"""Delivery receipts and consents: the platform's reports on what the outbox sent, into its ledger.

TEMPLATESENDJOBFINISH (``Kind.TEMPLATE_SENT``) and MASSSENDJOBFINISH (``Kind.MASS_SENT``) name the
msgid a send returned; the ledger gains a ``receipt`` line for it. A subscription pop-up answered
(``SUBSCRIBE_MSG_POPUP`` / ``_CHANGE``) grants or clears the consents subscription notices need.
None of these is the user saying anything: the answer is always empty.
"""

from __future__ import annotations

import logging

from bot.content import Content
from bot.context import Context
from bot.db.delivery.outbox import grant_consent, record_receipt
from bot.db.users import ensure_user
from bot.model import Inbound, Kind, Reply
from bot.router import Router
from bot.router.filters import Kinds
from bot.text import Analyzer

log = logging.getLogger("longtuan.delivery")

#: MASSSENDJOBFINISH's counts, kept in the ledger line.
MASS_COUNTS = ("TotalCount", "FilterCount", "SentCount", "ErrorCount")


def consents_of(msg: Inbound) -> list[tuple[str, bool]]:
    """(template id, accepted) for each template the event answers ("TemplateId", "TemplateId#2" ...)."""
    found = []
    for name, value in msg.extra.items():
        if name.startswith("TemplateId"):
            suffix = name[len("TemplateId") :]
            status = msg.extra.get("SubscribeStatusString" + suffix, "")
            found.append((value, status == "accept"))
    return found


def router(content: Content, analyzer: Analyzer) -> Router:
    r = Router("delivery")

    @r.on(Kinds(Kind.TEMPLATE_SENT, Kind.MASS_SENT))
    async def receipt(msg: Inbound, ctx: Context) -> Reply:
        if ctx.services.db.dialect != "postgresql":
            return Reply.nothing()  # the embedded SQLite run has no outbox (migration 0007)
        way = "template" if msg.kind is Kind.TEMPLATE_SENT else "mass"
        counts = {k: int(msg.extra[k]) for k in MASS_COUNTS if msg.extra.get(k, "").isdigit()}
        async with ctx.db() as s:
            known = await record_receipt(s, way, msg.key, msg.extra.get("Status", ""), counts, ctx.now())
        if not known:
            log.info("receipt for a send the outbox does not know", extra={"way": way, "job": msg.key})
        return Reply.nothing()

    @r.on(Kinds(Kind.SUBSCRIBE_MSG_POPUP, Kind.SUBSCRIBE_MSG_CHANGE))
    async def consent(msg: Inbound, ctx: Context) -> Reply:
        answers = consents_of(msg)
        if answers and ctx.services.db.dialect == "postgresql":
            async with ctx.db() as s:
                user_id = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
                for template_id, accepted in answers:
                    await grant_consent(s, user_id, template_id, accepted, ctx.now())
        return Reply.nothing()

    return r
