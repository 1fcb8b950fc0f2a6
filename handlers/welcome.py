"""Welcome: following the account (plain or through a QR scene), scanning a QR code, leaving."""

from __future__ import annotations

from bot.content import Content
from bot.context import Context
from bot.model import Inbound, Kind, Reply
from bot.router import Router
from bot.router.filters import Kinds, Scene


def router(content: Content) -> Router:
    r = Router("welcome")
    known = Scene(content.scenes)

    @r.on(Kinds(Kind.SUBSCRIBE), known)
    async def subscribed_by_scene(msg: Inbound, ctx: Context, scene: str) -> Reply:
        return Reply("welcome.scene", {"scene": content.scenes[scene]})

    @r.on(Kinds(Kind.SUBSCRIBE))
    async def subscribed(msg: Inbound, ctx: Context) -> Reply:
        return Reply("welcome.subscribe")

    @r.on(Kinds(Kind.SCAN), known)
    async def scanned(msg: Inbound, ctx: Context, scene: str) -> Reply:
        return Reply("welcome.scan", {"scene": content.scenes[scene]})

    @r.on(Kinds(Kind.SCAN))
    async def scanned_unknown(msg: Inbound, ctx: Context) -> Reply:
        # A code printed for a campaign that has since left scenes.toml: still a warm hello.
        return Reply("welcome.back")

    @r.on(Kinds(Kind.UNSUBSCRIBE))
    async def unsubscribed(msg: Inbound, ctx: Context) -> Reply:
        # The platform delivers nothing to someone who has just left; forget any open flow.
        ctx.session.clear()
        return Reply.nothing()

    return r
