"""Profile: the user's street, set through a two-step flow, shown on request."""

from __future__ import annotations

from bot.content import Content
from bot.context import Context
from bot.model import Button, Inbound, Reply
from bot.router import Router
from bot.router.filters import Command, HasText, InState
from bot.session.base import State, StatesGroup
from bot.text import normalise
from handlers.answers import not_a_choice


class StreetFlow(StatesGroup):
    title_key = "profile.flow_title"
    choosing = State()  # waits LONGTUAN_FLOW_TIMEOUT (10 minutes by default)


def _numbered(streets: list[str]) -> str:
    return "\n".join(f"{i}. {name}" for i, name in enumerate(streets, start=1))


def pick_street(text: str, streets: list[str]) -> str | None:
    """A street from "3", "坂田", "坂田街道" or "我在坂田"; None when it names none or several."""
    norm = normalise(text)
    if norm.isdigit():
        index = int(norm)
        return streets[index - 1] if 1 <= index <= len(streets) else None
    found = [s for s in streets if s in norm]
    return found[0] if len(found) == 1 else None


async def show(msg: Inbound, ctx: Context) -> Reply:
    user = await ctx.users.get(msg.channel, msg.user_id)
    if user is None or not user.street:
        return Reply("profile.none", buttons=[Button("设置街道")])
    return Reply("profile.show", {"street": user.street})


def router(content: Content) -> Router:
    r = Router("profile")
    streets = content.streets

    @r.on(InState(StreetFlow.choosing), HasText())
    async def chosen(msg: Inbound, ctx: Context, text: str) -> Reply | None:
        street = pick_street(text, streets)
        if street is None:
            if not_a_choice(ctx, text):
                return None  # a question or a command word, not a street: the other routes answer it
            return Reply("profile.street_invalid", {"streets": _numbered(streets)})
        await ctx.users.set_street(msg.channel, msg.user_id, street, ctx.now())
        ctx.finish()
        return Reply("profile.street_saved", {"street": street})

    @r.on(Command(content.commands["set_street"]))
    async def ask(msg: Inbound, ctx: Context) -> Reply:
        ctx.enter(StreetFlow.choosing)
        return Reply("profile.ask_street", {"streets": _numbered(streets)})

    @r.on(Command(content.commands["show_profile"]))
    async def show_profile(msg: Inbound, ctx: Context) -> Reply:
        return await show(msg, ctx)

    return r
