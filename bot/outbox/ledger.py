"""The delivery ledger port, kept by the outbox: the platform's receipts and users' consents.

TEMPLATESENDJOBFINISH and MASSSENDJOBFINISH name the msgid a send returned; the ledger gains a
``receipt`` line for it. A subscription pop-up answered (``subscribe_msg_popup`` / ``_change``)
grants or clears the consents subscription notices need. None of these is the user saying
anything: the channel answers them with an empty reply and no handler sees them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from bot.db import Database
from bot.db.delivery.outbox import grant_consent, record_receipt
from bot.db.users import ensure_user
from bot.outbound import Receipt

log = logging.getLogger("longtuan.delivery")

#: MASSSENDJOBFINISH's counts, kept in the ledger line.
MASS_COUNTS = ("TotalCount", "FilterCount", "SentCount", "ErrorCount")


def consents_of(fields: Mapping[str, str]) -> list[tuple[str, bool]]:
    """(template id, accepted) for each template the event answers ("TemplateId", "TemplateId#2" ...)."""
    found = []
    for name, value in fields.items():
        if name.startswith("TemplateId"):
            suffix = name[len("TemplateId") :]
            found.append((value, fields.get("SubscribeStatusString" + suffix, "") == "accept"))
    return found


class OutboxLedger:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    async def record(self, receipt: Receipt) -> None:
        now = self._clock()
        if receipt.kind in ("template_sent", "mass_sent"):
            way = "template" if receipt.kind == "template_sent" else "mass"
            fields = receipt.fields
            counts = {k: int(fields[k]) for k in MASS_COUNTS if fields.get(k, "").isdigit()}
            async with self._db.session() as s:
                known = await record_receipt(s, way, receipt.ref, fields.get("Status", ""), counts, now)
            if not known:
                log.info("receipt for a send the outbox does not know", extra={"way": way, "job": receipt.ref})
        elif receipt.kind in ("subscribe_msg_popup", "subscribe_msg_change"):
            answers = consents_of(receipt.fields)
            if answers:
                async with self._db.session() as s:
                    user_id = await ensure_user(s, receipt.channel, receipt.user_id, now)
                    for template_id, accepted in answers:
                        await grant_consent(s, user_id, template_id, accepted, now)
        else:
            log.info("delivery receipt", extra={"kind": receipt.kind, "ref": receipt.ref})
