"""「撤回申请」: withdraw an application nothing has been decided on yet (submitted, or forwarded
to the employer), picked by its number from the list; decided ones are the employer's to undo."""

from __future__ import annotations

from bot.content import Content
from bot.context import Context
from bot.db.internships import people
from bot.db.users import ensure_user
from bot.model import Inbound, Reply
from bot.router import Router
from bot.router.filters import Command, HasText, InState
from bot.text import normalise
from handlers.answers import not_a_choice
from handlers.internships import render
from handlers.internships.flows import InternshipWithdraw


def router(content: Content) -> Router:
    # 「取消」 while the list waits is the flow guard's (``bot.gateway.flows``): it ends the flow.
    r = Router("internships.withdraw")

    @r.on(InState(InternshipWithdraw.choosing), HasText())
    async def chosen(msg: Inbound, ctx: Context, text: str) -> Reply | None:
        ids: list[int] = ctx.data.get("ids", [])
        choice = normalise(text)
        if not choice.isdigit():
            if not_a_choice(ctx, text) or not choice:
                return None  # another question while the list waits: answered as anywhere
            return Reply("internships.bad_withdraw")
        if not 1 <= int(choice) <= len(ids):
            return Reply("internships.bad_withdraw")
        async with ctx.db() as s:
            user_id = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
            done = await people.withdraw(s, user_id, ids[int(choice) - 1])
        ctx.finish()
        if done is None:  # decided (or withdrawn from another phone) since the list was shown
            return Reply("internships.withdraw_gone")
        if done.was == "forwarded":
            return Reply("internships.withdrawn_forwarded", {"title": done.title, "email": done.contact_email})
        return Reply("internships.withdrawn", {"title": done.title})

    @r.on(Command(content.commands["internship_withdraw"]))
    async def withdraw(msg: Inbound, ctx: Context) -> Reply:
        async with ctx.db() as s:
            user_id = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
            mine = await people.applications(s, user_id, limit=50)
        if not mine:
            return Reply("internships.no_applications")
        open_ones = [a for a in mine if a.status in people.WITHDRAWABLE][:10]
        if not open_ones:
            if all(a.status == "withdrawn" for a in mine):
                return Reply("internships.withdraw_all_withdrawn")
            return Reply("internships.withdraw_none_open")
        lines = "\n".join(
            f"{i}. {a.title}｜{render.short_company(a.company)}" for i, a in enumerate(open_ones, start=1)
        )
        ctx.enter(InternshipWithdraw.choosing, ids=[a.post_id for a in open_ones])
        return Reply("internships.choose_withdraw", {"lines": lines})

    return r
