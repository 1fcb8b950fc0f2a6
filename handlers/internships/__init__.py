"""展翅计划 in the chat: search in free words, browse and open posts, apply, subscribe to keywords.

Order inside: the apply, unsubscribe and withdraw flows' answers first, then the commands
(「我的申请」, 「订阅 …」, 「撤回申请」), then browsing (「更多」, a number), then the search,
which takes any other words while browsing and words about internships otherwise.
"""

from __future__ import annotations

import re

from bot.content import Content
from bot.context import Context
from bot.db.internships import people
from bot.db.users import ensure_user
from bot.internships.search import Searcher
from bot.model import Inbound, Kind, Reply
from bot.router import Router
from bot.router.filters import Command
from bot.text import Analyzer, command_form
from handlers.internships import apply, browse, render, subscribe, withdraw
from handlers.internships.flows import Browsing, stop

#: 「我投了哪些」「我申请了哪些实习」「我投的简历呢」: the person's applications, in a sentence.
_MINE = re.compile(r"我都?(?:投|投递|申请)(?:了|的|过)(?:哪些|什么|啥|几个)?(?:实习|岗位|简历)?")


class AsksOwnApplications:
    #: Judges by the message's kind and text alone (``bot.router``: a refusal holds for that text).
    by_text = True

    kinds = frozenset({Kind.TEXT, Kind.VOICE})

    def __call__(self, msg: Inbound, ctx: Context) -> bool:
        return bool(msg.text) and _MINE.fullmatch(command_form(msg.text).rstrip("吗")) is not None


_STATUS_KEYS = {
    "submitted": "internships.status_submitted",
    "forwarded": "internships.status_forwarded",
    "interview": "internships.status_interview",
    "hired": "internships.status_hired",
    "declined": "internships.status_declined",
    "withdrawn": "internships.status_withdrawn",
}


def router(content: Content, analyzer: Analyzer) -> Router:
    r = Router("internships")
    searcher = Searcher(analyzer, content)

    @r.on(Browsing(), Command(content.commands["cancel"]))
    async def cancelled(msg: Inbound, ctx: Context) -> Reply:
        stop(ctx)
        return Reply("system.cancelled")

    r.include(apply.router(content))
    r.include(subscribe.router(content, searcher))
    r.include(withdraw.router(content))

    @r.on(Command(content.commands["internship_applications"]))
    async def my_applications(msg: Inbound, ctx: Context) -> Reply:
        async with ctx.db() as s:
            user_id = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
            mine = await people.applications(s, user_id)
        if not mine:
            return Reply("internships.no_applications")
        tz = ctx.local_now().tzinfo
        lines = "\n".join(
            f"{i}. {a.title}｜{render.short_company(a.company)} · {render.day(a.created_at.astimezone(tz).date())}投递"
            f" · {ctx.content.text(_STATUS_KEYS.get(a.status, 'internships.status_submitted'))}"
            for i, a in enumerate(mine, start=1)
        )
        return Reply("internships.my_applications", {"lines": lines})

    r.on(AsksOwnApplications())(my_applications)

    r.include(browse.router(content, analyzer, searcher))
    return r
