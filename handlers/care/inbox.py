"""A person to talk to: 「人工」 and the 联系我们 menu put the next messages into the staff inbox.

The flow: ``waiting`` (asked for a person, nothing written yet) → ``talking`` (each message joins
the thread; 「好了」 ends it). A crisis message opens or joins the thread itself, marked urgent,
and goes to ``talking`` too, so whatever the person writes next reaches staff.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.context import Context
from bot.db.care import add_incoming
from bot.db.users import ensure_user
from bot.errors import Unavailable
from bot.model import Inbound
from bot.session.base import State, StatesGroup
from handlers.care.config import CareContent
from handlers.care.mask import mask

log = logging.getLogger("longtuan.care")

#: Session data key under which the fallback keeps the last few questions it could not answer.
RECENT = "care_recent"
#: How many of them, and for how long they count as context of a message to staff.
RECENT_KEEP = 3
RECENT_SECONDS = 1800


class InboxFlow(StatesGroup):
    title_key = "flows.care_inbox"
    waiting = State()  # LONGTUAN_FLOW_TIMEOUT: asked for a person, nothing written yet
    talking = State(timeout=1800, timeout_key="care.inbox_timeout")


def recent_context(ctx: Context) -> list[str]:
    """What the bot could not answer this person in the last half hour (masked when kept)."""
    now = ctx.now()
    kept = ctx.data.get(RECENT)
    if not isinstance(kept, list):
        return []
    return [str(t) for at, t in (x for x in kept if isinstance(x, list) and len(x) == 2) if now - at < RECENT_SECONDS]


def remember_unanswered(ctx: Context, masked: str) -> None:
    """Keep a masked unanswered question in the session, as context if the person then asks for staff.

    Only outside flows (a flow's data is its own) and only while the session can be saved.
    """
    session = ctx.session
    if not session.persistent or session.state is not None:
        return
    kept = [x for x in session.data.get(RECENT, []) if isinstance(x, list)][-(RECENT_KEEP - 1) :]
    ctx.update(**{RECENT: [*kept, [ctx.now(), masked]]})


def is_hant(msg: Inbound) -> bool:
    return msg.extra.get("script") == "hant"


async def to_staff(ctx: Context, msg: Inbound, text: str, *, reason: str, context: dict[str, Any]) -> bool:
    """Store ``text`` in the person's thread; False (and a log line without the text) when the
    database is down: the person's answer must still go out, above all in a crisis."""
    try:
        async with ctx.db() as s:
            user_id = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
            await add_incoming(s, user_id, text, ctx.now(), reason=reason, hant=is_hant(msg), context=context)
    except Unavailable:
        log.error("a message to staff could not be stored: database unavailable", extra={"reason": reason})
        return False
    return True


def enter(ctx: Context, state: State, **data: Any) -> None:
    """Wait in ``state`` when the session can be kept; without Redis the answer still goes out."""
    if ctx.session.persistent:
        ctx.enter(state, **data)


def hours(care: CareContent) -> dict[str, str]:
    return {"hours": care.office.hours}


def contact_params(care: CareContent, content_text: Any) -> dict[str, str]:
    office = care.office
    lines = []
    if office.phone:
        lines.append(content_text("care.contact_phone", phone=office.phone))
    if office.address:
        lines.append(content_text("care.contact_address", address=office.address))
    return {"office": office.name, "hours": office.hours, "details": "".join("\n" + line for line in lines)}


def mask_all(texts: list[str]) -> list[str]:
    return [mask(t) for t in texts]
