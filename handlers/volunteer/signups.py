"""Signing up for a shift from a project's detail, and cancelling before it starts."""

from __future__ import annotations

import re

from bot.content import Content
from bot.context import Context
from bot.db.users import ensure_user
from bot.db.volunteer import projects
from bot.db.volunteer.ledger import user_id_of
from bot.model import Inbound, Kind, Reply
from bot.router import Router
from bot.router.filters import Command, HasText, InState
from bot.session.base import State, StatesGroup
from handlers.answers import sign_up_number
from handlers.volunteer import format as fmt
from handlers.volunteer import query
from handlers.volunteer.find import VolunteerBrowse, show_detail, utc

_SIGN_UP = re.compile(r"^(?:报名)?\s*第?\s*(\d{1,2})\s*(?:个|班次)?$")


class _AsksOwnSignups:
    """「我报名的志愿活动」「我报了哪些志愿项目」, said in a sentence."""

    #: Judges by the message's kind and text alone (``bot.router``: a refusal holds for that text).
    by_text = True

    kinds = frozenset({Kind.TEXT, Kind.VOICE})

    def __call__(self, msg: Inbound, ctx: Context) -> bool:
        return bool(msg.text) and query.asks_own_signups(msg.text)


class VolunteerSignups(StatesGroup):
    title_key = "flows.volunteer_signups"
    quiet = True
    #: data: signups (ids in the order shown), labels (what each one was)
    choosing = State()


def router(content: Content) -> Router:
    r = Router("volunteer.signups")

    @r.on(InState(VolunteerBrowse.detail), HasText())
    async def sign_up(msg: Inbound, ctx: Context, text: str) -> Reply | None:
        m = _SIGN_UP.match(text.strip())
        if m is None:
            return None
        shifts = ctx.data.get("shifts", [])
        n = int(m.group(1))
        if not 1 <= n <= len(shifts):
            return Reply("volunteer.bad_choice")
        shift_id = int(shifts[n - 1])
        now = utc(ctx)
        async with ctx.db() as s:
            user_id = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
            outcome = await projects.sign_up(s, user_id, shift_id, now)
            view = await projects.detail(s, int(ctx.data.get("project", 0)), now)
        if outcome == "already":
            return Reply("volunteer.signup_already")
        if outcome == "full":
            return Reply("volunteer.signup_full")
        if outcome == "started":
            return Reply("volunteer.signup_started")
        ctx.finish()
        shift = next((sh for sh in view.shifts if sh.id == shift_id), None) if view else None
        when = fmt.span(ctx.content, shift.starts_at, shift.ends_at, ctx.services.tz) if shift else ""
        return Reply(
            "volunteer.signed_up",
            {"title": view.title if view else "", "when": when, "place": view.place if view else ""},
        )

    @r.on(InState(VolunteerBrowse.listing), HasText())
    async def sign_up_from_list(msg: Inbound, ctx: Context, text: str) -> Reply | None:
        """「报名 2」 on the list of projects: that project's one shift, or its shifts to choose from."""
        n = sign_up_number(text)
        if n is None:
            return None
        items = ctx.data.get("items", [])
        if not 1 <= n <= len(items):
            return Reply("volunteer.bad_choice")
        detail = await show_detail(ctx, int(items[n - 1][0]))
        if ctx.session.state == VolunteerBrowse.detail.name and len(ctx.data.get("shifts", [])) == 1:
            return await sign_up(msg, ctx, "1")
        return detail

    async def mine(msg: Inbound, ctx: Context) -> Reply:
        now = utc(ctx)
        async with ctx.db() as s:
            user_id = await user_id_of(s, msg.channel, msg.user_id)
            found = await projects.my_signups(s, user_id, now) if user_id else []
        if not found:
            return Reply("volunteer.signups_none")
        tz = ctx.services.tz
        labels = [[f.title, fmt.span(ctx.content, f.starts_at, f.ends_at, tz)] for f in found]
        ctx.enter(VolunteerSignups.choosing, signups=[f.signup_id for f in found], labels=labels)
        lines = [
            ctx.content.text("volunteer.signup_item", n=i, title=title, when=when)
            for i, (title, when) in enumerate(labels, start=1)
        ]
        return Reply("volunteer.signups", {"items": "\n".join(lines)})

    r.on(Command(content.commands["volunteer_signups"]))(mine)
    r.on(_AsksOwnSignups())(mine)

    # The night school's cancel words that name no class (「取消报名」, not 「退课」).
    generic_cancel = [w for w in content.commands["courses_cancel"] if "课" not in w and "夜校" not in w]

    @r.on(Command(generic_cancel))
    async def cancel_any(msg: Inbound, ctx: Context) -> Reply:
        # 「取消报名」 from someone with no night-school signup (that programme answered first):
        # their shifts to pick from, or that there is nothing to cancel anywhere.
        listed = await mine(msg, ctx)
        return Reply("volunteer.nothing_to_cancel") if listed.key == "volunteer.signups_none" else listed

    @r.on(InState(VolunteerSignups.choosing), HasText())
    async def cancel(msg: Inbound, ctx: Context, text: str) -> Reply | None:
        m = _SIGN_UP.match(text.strip())
        if m is None:
            return None
        ids, labels = ctx.data.get("signups", []), ctx.data.get("labels", [])
        n = int(m.group(1))
        if not 1 <= n <= len(ids):
            return Reply("volunteer.bad_choice")
        async with ctx.db() as s:
            user_id = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
            outcome = await projects.cancel(s, user_id, int(ids[n - 1]), utc(ctx))
        ctx.finish()
        if outcome == "started":
            return Reply("volunteer.cancel_started")
        if outcome == "checked_in":
            return Reply("volunteer.cancel_checked_in")
        if outcome == "gone":
            return Reply("volunteer.cancel_gone")
        title, when = labels[n - 1]
        return Reply("volunteer.cancel_done", {"title": title, "when": when})

    return r
