"""The fallback that learns: what the FAQ could not answer is kept (masked, under a salted hash
of the asker) for ``longtuan report unanswered``, and answered with the closest entries."""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import TYPE_CHECKING

from bot.context import Context
from bot.db.care import keep_unanswered
from bot.errors import Unavailable
from bot.model import Button, Inbound, Reply
from handlers.care.inbox import remember_unanswered
from handlers.care.mask import mask

if TYPE_CHECKING:
    from handlers.faq import FaqIndex

log = logging.getLogger("longtuan.care")


def user_hash(salt: str, channel: str, user_id: str) -> str:
    """Stands for the asker: the same person gives the same hash (distinct askers are counted),
    and without the salt nobody can tell whose it is."""
    return hmac.new(salt.encode(), f"{channel}:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]


async def unanswered(msg: Inbound, ctx: Context, text: str, index: FaqIndex) -> Reply:
    masked = mask(text.strip())
    who = user_hash(ctx.settings.unanswered_salt.get_secret_value(), msg.channel, msg.user_id)
    try:
        await keep_unanswered(ctx.services.db, who, masked, ctx.now())
        kept = True
    except Unavailable:
        log.warning("unanswered question not kept: database unavailable")
        kept = False  # so the answer does not say 「已经记下来」
    remember_unanswered(ctx, masked)
    understood, entries = index.closest(text)
    buttons = [Button(e.question.rstrip("？?"), payload=e.examples[0]) for e in entries]
    if understood:
        return Reply("care.fallback_partial", {"understood": "、".join(understood[:3])}, buttons=buttons)
    if entries:
        return Reply("care.fallback_closest" if kept else "care.fallback_closest_unkept", buttons=buttons)
    return Reply("fallback.text" if kept else "fallback.unkept")
