"""Volunteer registration: the real name and ID number the national records system files hours under."""

from __future__ import annotations

from bot.content import Content
from bot.context import Context
from bot.db.users import ensure_user
from bot.db.volunteer import profiles
from bot.db.volunteer.rules import mask_id, valid_id_number
from bot.model import Inbound, Reply
from bot.router import Router
from bot.router.filters import Command, HasText, InState
from bot.session.base import State, StatesGroup
from handlers.answers import not_a_name


class VolunteerRegister(StatesGroup):
    title_key = "flows.volunteer_register"
    name = State()
    #: data: name
    id_number = State()


def router(content: Content) -> Router:
    r = Router("volunteer.register")

    @r.on(InState(VolunteerRegister.name), HasText())
    async def named(msg: Inbound, ctx: Context, text: str) -> Reply | None:
        name = text.strip().replace(" ", "")
        if not_a_name(ctx, name):
            return None  # 「我的时长」 here is asked, not a name: answered, and the form waits
        if not 2 <= len(name) <= 20 or any(c.isdigit() for c in name):
            return Reply("volunteer.bad_name")
        ctx.enter(VolunteerRegister.id_number, name=name)
        return Reply("volunteer.ask_id", {"name": name})

    @r.on(InState(VolunteerRegister.id_number), HasText())
    async def numbered(msg: Inbound, ctx: Context, text: str) -> Reply | None:
        number = text.strip().replace(" ", "").upper()
        if not valid_id_number(number) and (not_a_name(ctx, text) or not any(c.isdigit() for c in number)):
            return None  # 「最近心情不好」 is no try at an ID number: answered, and the form waits
        if not valid_id_number(number):
            return Reply("volunteer.bad_id")
        name = str(ctx.data.get("name", ""))
        async with ctx.db() as s:
            user_id = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
            await profiles.save(s, ctx.services.sealer, user_id, name, number, ctx.now())
        ctx.finish()
        return Reply("volunteer.registered", {"name": name, "masked": mask_id(number)})

    @r.on(Command(content.commands["volunteer_register"]))
    async def start(msg: Inbound, ctx: Context) -> Reply:
        ctx.enter(VolunteerRegister.name)
        return Reply("volunteer.ask_name")

    return r
