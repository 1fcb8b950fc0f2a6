"""Binding a member to a branch: by the branch's QR scene or its code; the name that matches the official list."""

from __future__ import annotations

from bot.content import Content
from bot.context import Context
from bot.db.study import members
from bot.db.study.members import Bound
from bot.db.users import ensure_user
from bot.model import Inbound, Kind, Reply
from bot.router import Router
from bot.router.filters import Command, HasText, InState
from bot.session.base import State, StatesGroup
from handlers.study.common import is_paused, who
from handlers.study.parse import BranchCode, BranchScene, any_code, bare_code, identity


class StudyBindFlow(StatesGroup):
    title_key = "flows.study_bind"
    code = State()  # waiting for a branch code after 「绑定支部」
    name = State()  # waiting for the name the official list knows the member by


async def bind_to(msg: Inbound, ctx: Context, code: str, *, explicit: bool) -> Reply | None:
    """Bind the sender to the branch with ``code``; an unknown code is answered only when ``explicit``."""
    async with ctx.db() as s:
        branch = await members.find_branch(s, code)
        if branch is None:
            if not explicit:
                return None  # "iphone15" is not a branch code worth correcting: let the others answer
            if msg.kind in (Kind.SUBSCRIBE, Kind.SCAN):
                return Reply("study.scene_unknown")
            return Reply("study.code_unknown", {"code": code[:20]})
        user_id = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
        outcome, old = await members.bind(s, user_id, branch, ctx.now())
    where = {"branch": branch.name, "org": branch.org, "street": branch.street}
    if outcome is Bound.MOVED and old is not None:
        ctx.finish()
        return Reply("study.moved", {"old": old.branch.name, **where})
    if outcome is Bound.SAME and old is not None and old.name:
        ctx.finish()
        return Reply("study.already", {"branch": branch.name, "street": branch.street})
    ctx.enter(StudyBindFlow.name)
    if msg.kind is Kind.SUBSCRIBE:
        return Reply("study.welcome", where)
    return Reply("study.bound", where)


async def show(msg: Inbound, ctx: Context) -> Reply:
    async with ctx.db() as s:
        w = await who(s, msg, ctx)
    m = w.member
    if m is None:
        return Reply("study.no_branch")
    if m.paused:
        reminders = ctx.content.text("study.reminders_paused")
    elif is_paused(m, w.episode):
        reminders = ctx.content.text("study.reminders_paused_episode")
    else:
        reminders = ctx.content.text("study.reminders_on")
    return Reply(
        "study.my_branch",
        {
            "branch": m.branch.name,
            "org": m.branch.org,
            "street": m.branch.street,
            "code": m.branch.code,
            "name": m.name or ctx.content.text("study.name_missing"),
            "reminders": reminders,
        },
    )


def register(r: Router, content: Content) -> None:
    cancel = Command(content.commands["cancel"])
    skip = Command([*content.commands["study_skip"], *content.commands["cancel"]])
    # A command typed while a step waits is that command, not a code or a name ("这周学了吗" is no name).
    any_command = Command(w for words in content.commands.values() for w in words)

    @r.on(InState(StudyBindFlow.code), cancel)
    async def code_cancelled(msg: Inbound, ctx: Context) -> Reply:
        ctx.finish()
        return Reply("system.cancelled")

    @r.on(InState(StudyBindFlow.code), HasText())
    async def code_given(msg: Inbound, ctx: Context, text: str) -> Reply | None:
        if any_command(msg, ctx):
            ctx.finish()
            return None
        return await bind_to(msg, ctx, any_code(text), explicit=True)

    @r.on(InState(StudyBindFlow.name), skip)
    async def name_skipped(msg: Inbound, ctx: Context) -> Reply:
        ctx.finish()
        return Reply("study.name_skipped")

    @r.on(InState(StudyBindFlow.name), HasText())
    async def name_given(msg: Inbound, ctx: Context, text: str) -> Reply | None:
        if any_command(msg, ctx):
            ctx.finish()
            return None
        code = bare_code(text)
        if code is not None:  # another branch's code instead of a name: the member moves on
            moved = await bind_to(msg, ctx, code, explicit=False)
            if moved is not None:
                return moved
        found = identity(text)
        if found is None:
            return Reply("study.name_invalid")
        name, mobile, member_no = found
        async with ctx.db() as s:
            user_id = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
            await members.set_identity(s, user_id, name, mobile, member_no)
        ctx.finish()
        return Reply("study.name_saved", {"name": name})

    @r.on(BranchScene())
    async def scanned(msg: Inbound, ctx: Context, code: str) -> Reply | None:
        return await bind_to(msg, ctx, code, explicit=True)

    @r.on(Command(content.commands["study_bind"]))
    async def ask_code(msg: Inbound, ctx: Context) -> Reply:
        ctx.enter(StudyBindFlow.code)
        return Reply("study.ask_code")

    @r.on(Command(content.commands["study_leave"]))
    async def leave(msg: Inbound, ctx: Context) -> Reply:
        async with ctx.db() as s:
            user_id = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
            left = await members.leave(s, user_id, ctx.now())
        if left is None:
            return Reply("study.leave_none")
        return Reply("study.left", {"branch": left})

    @r.on(Command(content.commands["study_branch"]))
    async def my_branch(msg: Inbound, ctx: Context) -> Reply:
        return await show(msg, ctx)

    @r.on(BranchCode())
    async def code_sent(msg: Inbound, ctx: Context, code: str, explicit: bool) -> Reply | None:
        return await bind_to(msg, ctx, code, explicit=explicit)
