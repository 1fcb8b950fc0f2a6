"""Applying to a post: what employers need is collected once, reused with confirmation, recorded."""

from __future__ import annotations

import re
from typing import Any

from bot.content import Content
from bot.context import Context
from bot.db import driver
from bot.db.internships import people, posts
from bot.db.internships.people import Profile
from bot.db.users import ensure_user
from bot.model import Button, Inbound, Kind, Reply
from bot.router import Router
from bot.router.filters import Command, HasText, InState
from bot.session.base import State
from bot.text import normalise
from handlers.answers import not_a_name, not_an_answer
from handlers.internships import flows, render
from handlers.internships.flows import APPLY_STATES, Browsing, InternshipApply

_APPLY_N = re.compile(r"(?:申请|投递)\s*(?:第\s*)?(\d{1,3})\s*(?:个|号)?")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_NAME = re.compile(r"[^\d\s!-/:-@\[-`{-~，。！？、；：（）“”‘’]{2,20}")

#: Steps whose answer is free text, and those read as a name or a number (``handlers.answers``).
_FREE_TEXT = frozenset({"name", "school", "major"})
_NAMES = frozenset({"name", "mobile"})


class _ApplyNumber:
    """「申请 3」: apply to result number 3; passes ``number``."""

    kinds = frozenset({Kind.TEXT, Kind.VOICE})

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        m = _APPLY_N.fullmatch(normalise(msg.text))
        return {"number": int(m.group(1))} if m else False


def _back(ctx: Context) -> None:
    """End the application; the results it started from can be browsed again."""
    shown = ctx.data.get("results")
    if isinstance(shown, dict) and shown.get("ids"):
        flows.show(ctx, **{k: v for k, v in shown.items() if k != "at"})
    else:
        ctx.finish()


def _profile(data: dict[str, Any]) -> Profile:
    return Profile(data["name"], data["mobile"], data["school"], data["major"], int(data["year"]))


#: 「大三」「我大二」: the graduation year from the year of study (summers left after this one's).
_GRADES = {"大一": 4, "大二": 3, "大三": 2, "大四": 1, "大五": 1}
#: What says yes to the year worked out from 「大三」.
_YES = frozenset({"对", "对的", "是", "是的", "嗯", "好", "好的", "没错", "确认", "ok"})


def _guess_year(ctx: Context, said: str) -> tuple[str, int] | None:
    """「大三」 in December 2026: ("大三", 2028); the academic year begins in September."""
    for word, left in _GRADES.items():
        if word in said and len(said) <= 8:
            today = ctx.local_now()
            return word, (today.year if today.month >= 9 else today.year - 1) + left
    return None


def _year_example(ctx: Context) -> int:
    return ctx.local_now().year + 1


async def _start(ctx: Context, msg: Inbound, post_id: int) -> Reply:
    """Open the application for ``post_id``: refuse a closed post or a second application at once."""
    today = ctx.local_now().date()
    async with ctx.db() as s:
        found = await posts.posts_by_id(await driver(s), [post_id])
        if not found:
            return Reply("internships.no_post")
        post = found[0]
        user_id = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
        if not post.is_open(today):
            return Reply("internships.closed", {"title": post.title})
        before = await people.applied_at(s, user_id, post.id)
        if before is not None:
            return Reply("internships.already_applied", {"date": render.day(before.date()), "title": post.title})
        saved = await people.profile(s, user_id)
    keep = {"results": flows.results(ctx) or {}, "post": post.id, "title": post.title}
    if saved is None:
        ctx.enter(InternshipApply.name, **keep)
        return Reply("internships.ask_name", {"title": post.title})
    ctx.enter(
        InternshipApply.confirm,
        **keep,
        name=saved.name,
        mobile=saved.mobile,
        school=saved.school,
        major=saved.major,
        year=saved.graduation_year,
    )
    return _confirm(ctx)


def _confirm(ctx: Context) -> Reply:
    d = ctx.data
    return Reply(
        "internships.confirm",
        {
            "title": d["title"],
            "name": d["name"],
            "mobile": d["mobile"],
            "school": d["school"],
            "major": d["major"],
            "year": d["year"],
        },
        buttons=[Button("确认"), Button("修改"), Button("取消")],
    )


async def _submit(ctx: Context, msg: Inbound) -> Reply:
    """Save the profile and record the application; the database decides duplicate or closed."""
    profile = _profile(ctx.data)
    post_id = int(ctx.data["post"])
    today = ctx.local_now().date()
    async with ctx.db() as s:
        user_id = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
        await people.save_profile(s, user_id, profile, ctx.now())
        outcome = await people.apply(s, user_id, post_id, profile, today, ctx.now())
        found = await posts.posts_by_id(await driver(s), [post_id])
        before = await people.applied_at(s, user_id, post_id) if outcome == "duplicate" else None
    title_before = str(ctx.data.get("title", ""))
    _back(ctx)
    title = found[0].title if found else title_before
    if outcome == "applied" and found:
        return Reply(
            "internships.applied", {"title": title, "company": found[0].company, "email": found[0].contact_email}
        )
    if outcome == "duplicate" and before is not None:
        return Reply("internships.already_applied", {"date": render.day(before.date()), "title": title})
    return Reply("internships.closed", {"title": title})


def router(content: Content) -> Router:
    r = Router("internships.apply")
    cancel = Command(content.commands["cancel"])

    for state in APPLY_STATES:

        @r.on(InState(state), cancel)
        async def cancelled(msg: Inbound, ctx: Context) -> Reply:
            _back(ctx)
            return Reply("system.cancelled")

    @r.on(Browsing(), Command(content.commands["internship_apply"]))
    async def apply_open(msg: Inbound, ctx: Context) -> Reply:
        post = (flows.results(ctx) or {}).get("post")
        if post is None:
            return Reply("internships.no_post")
        return await _start(ctx, msg, int(post))

    @r.on(Browsing(), _ApplyNumber())
    async def apply_number(msg: Inbound, ctx: Context, number: int) -> Reply:
        ids: list[int] = (flows.results(ctx) or {}).get("ids", [])
        if not 1 <= number <= len(ids):
            return Reply("internships.bad_number", {"number": number, "total": len(ids)})
        return await _start(ctx, msg, int(ids[number - 1]))

    @r.on(Command(content.commands["internship_apply"]))
    async def apply_nothing(msg: Inbound, ctx: Context) -> Reply | None:
        if ctx.session.state is not None:
            return None  # another flow's answer
        return Reply("internships.no_post")

    def step(state: State, field: str, ok: Any, bad: str, nxt: State | None, ask: str) -> None:
        @r.on(InState(state), HasText())
        async def answer(msg: Inbound, ctx: Context, text: str) -> Reply | None:
            said = normalise(text)
            if field == "year":
                guessed = _guess_year(ctx, said)
                if guessed is not None:
                    # 「大三」: the year it means, asked back before anything is sent.
                    ctx.update(year_guess=guessed[1])
                    return Reply("internships.year_guess", {"grade": guessed[0], "year": guessed[1]})
                if said in _YES and isinstance(ctx.data.get("year_guess"), int):
                    said = str(ctx.data["year_guess"])
            value = ok(ctx, said)
            # Another question is answered as anywhere, and the form waits: free text (a name, a
            # school) is checked before it is taken, a number only when it is not one.
            if (value is None or field in _FREE_TEXT) and (not_a_name if field in _NAMES else not_an_answer)(ctx, text):
                return None
            if value is None:
                return Reply(bad, {"example": _year_example(ctx)}) if bad == "internships.bad_year" else Reply(bad)
            ctx.update(**{field: value})
            if nxt is None:
                return await _submit(ctx, msg)
            ctx.enter(nxt, **ctx.data)
            if ask == "internships.ask_mobile":
                return Reply("internships.ask_mobile", {"name": ctx.data["name"]})
            if ask == "internships.ask_year":
                return Reply("internships.ask_year", {"example": _year_example(ctx)})
            return Reply(ask)

    def name_ok(ctx: Context, text: str) -> str | None:
        return text if _NAME.fullmatch(text) else None

    def mobile_ok(ctx: Context, text: str) -> str | None:
        digits = re.sub(r"[\s-]", "", text).removeprefix("+86")
        return digits if _MOBILE.fullmatch(digits) else None

    def words_ok(ctx: Context, text: str) -> str | None:
        return text if 2 <= len(text) <= 40 else None

    def year_ok(ctx: Context, text: str) -> int | None:
        digits = text.removesuffix("毕业").removesuffix("年").removesuffix("届")
        if not digits.isdigit() or len(digits) not in (2, 4):
            return None
        year = int(digits) + (2000 if len(digits) == 2 else 0)  # 「27届」
        now = ctx.local_now().year
        return year if now - 8 <= year <= now + 8 else None

    step(
        InternshipApply.name, "name", name_ok, "internships.bad_name", InternshipApply.mobile, "internships.ask_mobile"
    )
    step(
        InternshipApply.mobile,
        "mobile",
        mobile_ok,
        "internships.bad_mobile",
        InternshipApply.school,
        "internships.ask_school",
    )
    step(
        InternshipApply.school,
        "school",
        words_ok,
        "internships.bad_school",
        InternshipApply.major,
        "internships.ask_major",
    )
    step(
        InternshipApply.major, "major", words_ok, "internships.bad_major", InternshipApply.year, "internships.ask_year"
    )
    step(InternshipApply.year, "year", year_ok, "internships.bad_year", None, "")

    @r.on(InState(InternshipApply.confirm), Command([*content.commands["internship_confirm"], "ok"]))
    async def confirmed(msg: Inbound, ctx: Context) -> Reply:
        return await _submit(ctx, msg)

    @r.on(InState(InternshipApply.confirm), Command(content.commands["internship_edit"]))
    async def edit(msg: Inbound, ctx: Context) -> Reply:
        ctx.enter(InternshipApply.name, **ctx.data)
        return Reply("internships.ask_name", {"title": ctx.data["title"]})

    @r.on(InState(InternshipApply.confirm), HasText())
    async def unclear(msg: Inbound, ctx: Context, text: str) -> Reply:
        return Reply("internships.confirm_again", buttons=[Button("确认"), Button("修改"), Button("取消")])

    return r
