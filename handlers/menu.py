"""Help and the custom menu: the help text, and one answer per CLICK key from ``content/menu.toml``."""

from __future__ import annotations

from bot.content import Content
from bot.context import Context
from bot.model import Inbound, Reply
from bot.router import Router
from bot.router.filters import Command, MenuKey
from handlers import profile


def router(content: Content) -> Router:
    r = Router("menu")

    @r.on(Command(content.commands["help"]))
    async def show_help(msg: Inbound, ctx: Context) -> Reply:
        return Reply("help.main")

    @r.on(Command(content.commands["more"]))
    async def nothing_more(msg: Inbound, ctx: Context) -> Reply:
        # 「更多」 that no list on screen took (the programmes page their own lists first).
        return Reply("system.no_more")

    @r.on(MenuKey("MY_STREET"))
    async def my_street(msg: Inbound, ctx: Context, key: str) -> Reply:
        return await profile.show(msg, ctx)

    @r.on(MenuKey(*content.clicks))
    async def click(msg: Inbound, ctx: Context, key: str) -> Reply:
        return Reply(content.clicks[key])

    return r
