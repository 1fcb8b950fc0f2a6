"""Welcome: following the account (plain or through a QR scene), scanning a QR code, leaving."""

from __future__ import annotations

from bot.content import Content
from bot.context import Context
from bot.model import Inbound, Kind, Reply
from bot.router import Router
from bot.router.filters import Kinds


def router(content: Content) -> Router:
    r = Router("welcome")

    @r.on(Kinds(Kind.SUBSCRIBE))
    async def subscribed(msg: Inbound, ctx: Context) -> Reply:
        scene = content.scenes.get(msg.key)
        if scene:
            return Reply("welcome.scene", {"scene": scene})
        return Reply("welcome.subscribe")

    @r.on(Kinds(Kind.SCAN))
    async def scanned(msg: Inbound, ctx: Context) -> Reply:
        scene = content.scenes.get(msg.key)
        return Reply("welcome.scan", {"scene": scene}) if scene else Reply("welcome.back")

    @r.on(Kinds(Kind.UNSUBSCRIBE))
    async def unsubscribed(msg: Inbound, ctx: Context) -> Reply:
        # The platform delivers nothing to someone who has just left; forget any open flow.
        ctx.session.clear()
        return Reply.nothing()

    return r
