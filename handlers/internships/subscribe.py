"""Keyword subscriptions: 「订阅 设计 实习」 saves one, 「我的订阅」 lists, 「取消订阅」 removes."""

from __future__ import annotations

import re
from typing import Any

from bot.content import Content
from bot.context import Context
from bot.db.internships import people
from bot.db.users import ensure_user
from bot.internships.index import tsquery
from bot.internships.search import Searcher, filters_of
from bot.model import Inbound, Kind, Reply
from bot.router import Router
from bot.router.filters import Command, HasText, InState
from bot.text import normalise, to_simplified
from handlers.answers import not_an_answer
from handlers.internships.flows import InternshipUnsubscribe

_SUBSCRIBE = re.compile(r"订阅\s*(.*)")
_UNSUBSCRIBE = re.compile(r"(?:取消订阅|退订)\s*(.+)")
_ALL = frozenset({"全部", "所有", "全部订阅", "都取消", "全部取消"})


class _Prefixed:
    """The message starts with a command word and says more; passes ``rest``."""

    kinds = frozenset({Kind.TEXT, Kind.VOICE})

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        # Inside a flow too: its own routes came first (``bot.router``) and handed this on
        # (``handlers.answers``), so 「订阅 财务」 after a volunteer list, or in the middle of a
        # form, subscribes (and the form says it still waits).
        m = self.pattern.fullmatch(normalise(to_simplified(msg.text)))
        return {"rest": m.group(1).strip()} if m else False


def _listed(subs: list[people.Subscription]) -> str:
    return "\n".join(f"{i}. {s.label}" for i, s in enumerate(subs, start=1))


def router(content: Content, searcher: Searcher) -> Router:
    r = Router("internships.subscribe")
    cancel = Command(content.commands["cancel"])

    @r.on(InState(InternshipUnsubscribe.choosing), cancel)
    async def cancelled(msg: Inbound, ctx: Context) -> Reply:
        ctx.finish()
        return Reply("system.cancelled")

    @r.on(InState(InternshipUnsubscribe.choosing), HasText())
    async def chosen(msg: Inbound, ctx: Context, text: str) -> Reply | None:
        ids: list[int] = ctx.data.get("ids", [])
        choice = normalise(text)
        if not_an_answer(ctx, text):
            return None  # another question while the list waits: answered as anywhere
        async with ctx.db() as s:
            user_id = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
            return await _remove(ctx, s, user_id, choice, ids, ask_again=True)

    @r.on(Command(content.commands["internship_subscriptions"]))
    async def mine(msg: Inbound, ctx: Context) -> Reply:
        async with ctx.db() as s:
            user_id = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
            subs = await people.subscriptions(s, user_id)
        if not subs:
            return Reply("internships.no_subscriptions")
        return Reply("internships.my_subscriptions", {"lines": _listed(subs)})

    @r.on(Command(content.commands["internship_unsubscribe"]))
    async def unsubscribe(msg: Inbound, ctx: Context) -> Reply:
        async with ctx.db() as s:
            user_id = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
            subs = await people.subscriptions(s, user_id)
            if not subs:
                return Reply("internships.no_subscriptions")
            if len(subs) == 1:
                await people.unsubscribe(s, user_id, [subs[0].id])
                return Reply("internships.unsubscribed", {"label": subs[0].label})
        ctx.enter(InternshipUnsubscribe.choosing, ids=[sub.id for sub in subs])
        return Reply("internships.choose_unsubscribe", {"lines": _listed(subs)})

    @r.on(_Prefixed(_UNSUBSCRIBE))
    async def unsubscribe_one(msg: Inbound, ctx: Context, rest: str) -> Reply:
        async with ctx.db() as s:
            user_id = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
            subs = await people.subscriptions(s, user_id)
            if not subs:
                return Reply("internships.no_subscriptions")
            return await _remove(ctx, s, user_id, rest, [sub.id for sub in subs], ask_again=False)

    @r.on(_Prefixed(_SUBSCRIBE))
    async def subscribe(msg: Inbound, ctx: Context, rest: str) -> Reply:
        query = searcher.understand(rest)
        if query.empty and not query.trigger:
            return Reply("internships.subscribe_what")
        # 「订阅 实习」 with nothing else: every new post.
        label = query.label or ctx.content.text("internships.every_post")
        limit = ctx.settings.internship_max_subscriptions
        async with ctx.db() as s:
            user_id = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
            outcome = await people.subscribe(
                s, user_id, label, tsquery(query.groups) or None, filters_of(query), limit, ctx.now()
            )
        if outcome == "exists":
            return Reply("internships.subscribe_exists", {"label": label})
        if outcome == "full":
            return Reply("internships.subscribe_full", {"limit": limit})
        return Reply("internships.subscribed", {"label": label})

    return r


async def _remove(ctx: Context, s: Any, user_id: int, choice: str, ids: list[int], *, ask_again: bool) -> Reply:
    """Remove by number, by label or all; an unclear answer asks again (in the flow) or lists them."""
    subs = {sub.id: sub for sub in await people.subscriptions(s, user_id)}
    listed = [subs[i] for i in ids if i in subs]
    if choice in _ALL:
        count = await people.unsubscribe(s, user_id)
        ctx.finish()
        return Reply("internships.unsubscribed_all", {"count": count})
    picked = None
    if choice.isdigit() and 1 <= int(choice) <= len(listed):
        picked = listed[int(choice) - 1]
    else:
        label = searcher_label(choice)
        picked = next((sub for sub in listed if sub.label == choice or sub.label.replace(" · ", " ") == label), None)
    if picked is None:
        if ask_again:
            return Reply("internships.bad_unsubscribe")
        ctx.enter(InternshipUnsubscribe.choosing, ids=[sub.id for sub in listed])
        return Reply("internships.choose_unsubscribe", {"lines": _listed(listed)})
    await people.unsubscribe(s, user_id, [picked.id])
    ctx.finish()
    return Reply("internships.unsubscribed", {"label": picked.label})


def searcher_label(text: str) -> str:
    """「坂田 · 设计」 and 「坂田 设计」 name the same subscription."""
    return " ".join(text.replace("·", " ").split())
