"""Searching and browsing posts: free words in, five results a page, a number opens the detail."""

from __future__ import annotations

import re
from typing import Any

from bot.content import Content
from bot.context import Context
from bot.db.internships import posts
from bot.db.internships.posts import Reads
from bot.internships.search import Result, Searcher
from bot.internships.understand import Query
from bot.model import Button, Inbound, Kind, Reply
from bot.router import Router
from bot.router.filters import Command, MenuKey
from bot.text import Analyzer, command_form, normalise
from handlers.faq import FaqIndex
from handlers.internships import flows, render
from handlers.internships.flows import Browsing

_NUMBER = re.compile(r"(?:第\s*)?(\d{1,3})\s*(?:个|号)?")
#: Related words offered when nothing was found.
_TIP_WORDS = 4


#: What keeps words out of a search nobody asked for (no 实习 or 岗位 said): a question, or another
#: programme named. Their answer, if any, comes from the FAQ or the fallback.
_COLD_NOT = (
    "?",
    "？",
    "怎么",
    "怎样",
    "如何",
    "什么",
    "为什么",
    "可以",
    "能不能",
    "请问",
    "问一下",
    "想问",
    "志愿",
    "义工",
    "夜校",
    "大学习",
    "课",
)


class SearchIntent:
    """A message that is a search: while browsing, any words; otherwise words about 实习/岗位
    (not a question about the rules, which the FAQ answers), or, if nothing else would answer,
    words that might find posts (「设计」) - then the handler answers only when it finds some.

    Passes ``query``, ``cold`` (True: answer only with results) and ``question`` (written as a
    question: 「你们周末有人值班吗」 while browsing is a search only if some post has its words,
    although 周末 is a filter; 「有设计的吗」, filters alone, still is one). Never while another
    programme's flow waits for an answer; a list or a detail being looked at (a quiet flow:
    「周末的志愿活动」 then 「1」) does not stop a search.
    """

    kinds = frozenset({Kind.TEXT, Kind.VOICE})

    def __init__(self, searcher: Searcher, faq: FaqIndex, commands: dict[str, list[str]]) -> None:
        self.searcher = searcher
        self.faq = faq
        self.commands = frozenset(normalise(w) for words in commands.values() for w in words)

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        if not msg.text.strip():
            return False
        group = ctx.session.group
        if ctx.session.state is not None and (group is None or not group.quiet):
            return False  # a flow asking for an answer (a name, a number) keeps its words
        browsing = flows.results(ctx) is not None
        if normalise(msg.text) in self.commands or command_form(msg.text) in self.commands:
            return False
        query = self.searcher.understand(msg.text)
        if query.meta:
            return False
        entry = self.faq.match(msg.text)
        said = normalise(msg.text)
        question = any(q in said for q in _COLD_NOT) or said.endswith(("吗", "么"))
        if browsing:
            if entry is not None and not entry.id.startswith("internship."):
                return False  # 「夜校怎么报名」 while browsing goes to its own answer
            if query.empty and not query.trigger:
                return False
            return {"query": query, "cold": False, "question": question}
        if query.trigger:
            return {"query": query, "cold": False, "question": False}
        if entry is not None or query.empty or question:
            return False  # 「志愿者可以带家属吗」: a question, or about another programme, not words for posts
        return {"query": query, "cold": True, "question": False}


def _page_reply(ctx: Context, key: str, found: list[posts.PostRow], total: str, page: int, **params: Any) -> Reply:
    more = (page + 1) * render.PAGE_SIZE < len((flows.results(ctx) or {}).get("ids", []))
    buttons = [Button("更多")] if more else []
    base = {
        "lines": render.lines(found, page * render.PAGE_SIZE + 1),
        "total": total,
        "more": ctx.content.text("internships.more_hint") if more else "",
    }
    if key == "internships.results":
        return Reply(
            "internships.results", {**base, "label": params["label"], "relaxed": params["relaxed"]}, buttons=buttons
        )
    if key == "internships.page":
        return Reply("internships.page", {**base, "page": page + 1}, buttons=buttons)
    return Reply("internships.results_latest", base, buttons=buttons)


def router(content: Content, analyzer: Analyzer, searcher: Searcher) -> Router:
    r = Router("internships.browse")
    intent = SearchIntent(searcher, FaqIndex(content.faq, analyzer), content.commands)

    @r.on(MenuKey("INTERNSHIP"))
    async def menu(msg: Inbound, ctx: Context, key: str) -> Reply:
        flows.show(ctx, ids=[], page=0, label="")
        return Reply("internships.menu")

    more_words = Command([*content.commands["more"], *content.commands["internship_more"]])

    @r.on(Browsing(), more_words)
    async def more(msg: Inbound, ctx: Context) -> Reply:
        shown = flows.results(ctx) or {}
        ids: list[int] = shown.get("ids", [])
        page = int(shown.get("page", 0)) + 1
        chunk = ids[page * render.PAGE_SIZE : (page + 1) * render.PAGE_SIZE]
        if not chunk:
            return Reply("internships.no_more")
        found = await posts.posts_by_id(ctx.services.db, chunk)
        flows.note(ctx, page=page)
        return _page_reply(ctx, "internships.page", found, str(shown.get("total", len(ids))), page)

    @r.on(Browsing(), _Number())
    async def open_post(msg: Inbound, ctx: Context, number: int) -> Reply:
        ids: list[int] = (flows.results(ctx) or {}).get("ids", [])
        if not ids:
            return Reply("internships.search_first")
        if not 1 <= number <= len(ids):
            return Reply("internships.bad_number", {"number": number, "total": len(ids)})
        found = await posts.posts_by_id(ctx.services.db, [ids[number - 1]])
        if not found:
            return Reply("internships.bad_number", {"number": number, "total": len(ids)})
        flows.note(ctx, post=found[0].id)
        today = ctx.local_now().date()
        buttons = [Button("申请"), Button("更多")] if found[0].is_open(today) else [Button("更多")]
        reply = render.detail(ctx.content, found[0], today)
        return Reply(reply.key, reply.params, buttons=buttons)

    @r.on(intent)
    async def search(msg: Inbound, ctx: Context, query: Query, cold: bool, question: bool) -> Reply | None:
        today = ctx.local_now().date()
        db = ctx.services.db  # reads only: each runs on its own, no transaction around them
        # Filters alone make a search (「有周末的吗」); words no post has ever had do not
        # (「谢谢」「今天天气怎么样」, 「你们周末有人值班吗」 while browsing).
        sure = query.trigger or bool(query.filters and not (question and query.groups))
        if question and not sure:  # (never cold: a cold search is no question)
            # Written as a question: more often for the office than for the posts, so its words are
            # asked about first (one read, not two, when no post has them).
            if not await searcher.knows(db, query):
                return None
            sure = True
        result = await searcher.run(db, query, today, relax=False)
        if not result.found.total:
            if cold:
                # Not a search after all: the FAQ's fallback answers. A cold search answers only
                # with posts that have all its words (「修改密码」 is not about posts with 密码).
                return None
            if not (sure or await searcher.knows(db, query)):
                return None
            result = await searcher.loosen(db, query, today) or result
        if not result.found.total:
            if query.empty:
                return Reply("internships.nothing_at_all")  # the latest posts were read: there are none
            return await _nothing(ctx, db, searcher, query, today)
        first = result.found.first
        _remember(ctx, result)
        total = _total(result)
        if not query.label:
            return _page_reply(ctx, "internships.results_latest", first, total, 0)
        relaxed = ctx.content.text("internships.relaxed") if result.relaxed else ""
        return _page_reply(ctx, "internships.results", first, total, 0, label=query.label, relaxed=relaxed)

    return r


def _total(result: Result) -> str:
    """「37」, or 「100+」 when more posts match than a search reads."""
    return f"{result.found.total}+" if result.found.capped else str(result.found.total)


def _remember(ctx: Context, result: Result) -> None:
    flows.show(
        ctx,
        ids=result.found.ids,
        total=_total(result),
        page=0,
        label=result.query.label,
    )


async def _nothing(ctx: Context, s: Reads, searcher: Searcher, query: Query, today: Any) -> Reply:
    """Say what was understood, how to loosen it, and show the latest posts instead of a dead end."""
    content = ctx.content
    tips: list[str] = []
    for name, shown in (
        ("street", query.street),
        ("industry", query.industry),
        ("season", query.season),
        ("hmt_round", "港澳台专场" if query.hmt_round else None),
        ("paid", "有报酬" if query.paid else None),
    ):
        if shown is None:
            continue
        looser = query.without(name)
        n = await searcher.count(s, looser, today)
        if n:
            again = looser.label.replace(" · ", " ") or "实习"
            tips.append(content.text("internships.tip_drop", filter=shown, count=n, query=again))
    related: list[str] = []
    for keyword in query.keywords:
        canonical = searcher.understand.analyzer.canonical(keyword)
        for word in [canonical, *content.synonyms.get(canonical, [])]:
            if word != keyword and word not in related:
                related.append(word)
    if related:
        tips.append(content.text("internships.tip_words", words="、".join(related[:_TIP_WORDS])))
    tips.append(content.text("internships.tip_subscribe", label=query.label.replace(" · ", " ")))
    latest = await searcher.run(s, Query(), today)
    if not latest.found.total:
        return Reply("internships.nothing_at_all")
    rows = latest.found.first
    _remember(ctx, latest)
    return Reply(
        "internships.nothing",
        {"label": query.label, "tips": "\n".join(tips), "lines": render.lines(rows)},
        buttons=[Button("更多")] if latest.found.total > render.PAGE_SIZE else [],
    )


class _Number:
    """「3」「第3个」: a result's number; passes ``number``."""

    kinds = frozenset({Kind.TEXT, Kind.VOICE})

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        m = _NUMBER.fullmatch(normalise(msg.text))
        return {"number": int(m.group(1))} if m else False
