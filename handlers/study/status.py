"""This week's episode and the member's completion: 「这周学了吗」, 「已学习」, and screenshots."""

from __future__ import annotations

from bot.content import Content
from bot.context import Context
from bot.db.study import completions, episodes
from bot.db.study import report as figures
from bot.db.study import week as study_week
from bot.db.study.completions import Recorded
from bot.model import Inbound, Kind, Reply
from bot.router import Router
from bot.router.filters import Command, Kinds, MenuKey
from bot.text import normalise
from handlers.study.common import who
from handlers.study.parse import when


async def this_week(msg: Inbound, ctx: Context) -> Reply:
    now = ctx.local_now()
    week = await study_week.this_week(ctx.services.db, msg.channel, msg.user_id, now)
    if week is None:
        return Reply("study.none")
    ep, done = week.episode, week.done
    text = ctx.content.text
    closes = when(ep.closes_at, ctx.services.tz)
    is_open = ep.is_open(now)
    deadline = text("study.deadline_open", closes=closes) if is_open else text("study.deadline_closed", closes=closes)
    if week.branch is None:
        status = text("study.status_unbound")
    elif done is not None and done.confirmed:
        status = text("study.status_confirmed")
    elif done is not None:
        status = text("study.status_self")
    elif is_open:
        status = text("study.status_pending", branch=week.branch)
    else:
        status = text("study.status_missed")
    return Reply(
        "study.this_week",
        {"number": ep.number, "title": ep.title, "link": ep.link, "deadline": deadline, "status": status},
    )


#: 「这周的大学习学了没」「大学习在哪看」: this week's episode, asked in a sentence ...
_THIS_WEEK = (
    "这周", "本周", "这期", "本期", "这一期", "最新一期", "学了吗", "学了没", "学没学",
    "在哪看", "哪里看", "链接", "截止",
)  # fmt: skip
#: ... unless it asks about reminders, binding or the rules (the FAQ and the other routes answer those).
_OTHER = ("参学比", "提醒", "通知", "绑定", "支部", "怎么", "如何", "记录")


#: 「我们支部参学比多少」「支部的参学比怎么样」: a member asking their own branch's figure ...
_RATIO_OWN = ("我们", "我的", "支部", "多少", "几", "怎么样", "咋样")
#: ... not what the ratio is or how it is counted (the FAQ answers that).
_RATIO_DEFINITION = ("是什么", "什么是", "什么意思", "啥意思", "怎么算", "如何算", "怎么计算", "如何计算")


class Asks:
    """A sentence about ``topic`` (at most ``longest`` characters) with one of ``some`` and none of ``none``."""

    #: Judges by the message's kind and text alone (``bot.router``: a refusal holds for that text).
    by_text = True

    kinds = frozenset({Kind.TEXT, Kind.VOICE})

    def __init__(self, topic: str, longest: int, some: tuple[str, ...], none: tuple[str, ...]) -> None:
        self.topic, self.longest, self.some, self.none = topic, longest, some, none

    def __call__(self, msg: Inbound, ctx: Context) -> bool:
        said = normalise(msg.text)
        if len(said) > self.longest or self.topic not in said:
            return False
        return any(w in said for w in self.some) and not any(o in said for o in self.none)


async def branch_ratio(msg: Inbound, ctx: Context) -> Reply:
    """The member's branch: this episode's ratio so far and the one before."""
    async with ctx.db() as s:
        w = await who(s, msg, ctx)
        if w.member is None:
            return Reply("study.ratio_unbound")
        window = await episodes.recent(s, ctx.local_now(), 2)
        found = await figures.branch(s, w.member.branch.id)
        done = await figures.completions(s, [e.id for e in window], w.member.branch.id)
    if not window or found is None:
        return Reply("study.none")
    rows = []
    for ep in reversed(window):  # the newest first
        line = figures.lines([found], done, ep)[0]
        rows.append(
            ctx.content.text(
                "study.ratio_line",
                number=ep.number,
                now=ctx.content.text("study.ratio_so_far") if ep.is_open(ctx.local_now()) else "",
                done=line.completed,
                members=line.members,
                ratio=f"{line.ratio * 100:.0f}%",
            )
        )
    return Reply("study.ratio", {"branch": found.name, "lines": "\n".join(rows)})


def register(r: Router, content: Content) -> None:
    r.on(Command(content.commands["study_ratio"]))(branch_ratio)
    r.on(Asks("参学比", 24, _RATIO_OWN, _RATIO_DEFINITION))(branch_ratio)

    @r.on(Command(content.commands["study_status"]))
    async def status(msg: Inbound, ctx: Context) -> Reply:
        return await this_week(msg, ctx)

    r.on(Asks("大学习", 20, _THIS_WEEK, _OTHER))(status)

    @r.on(MenuKey("STUDY"))
    async def menu(msg: Inbound, ctx: Context, key: str) -> Reply:
        return await this_week(msg, ctx)

    @r.on(Command(content.commands["study_done"]))
    async def self_report(msg: Inbound, ctx: Context) -> Reply:
        async with ctx.db() as s:
            w = await who(s, msg, ctx)
            if w.member is None:
                return Reply("study.done_unbound")
            ep = w.episode
            if ep is None or not ep.is_open(ctx.local_now()):
                return Reply("study.done_no_episode")
            outcome = await completions.self_report(s, ep.id, w.user_id, w.member.branch.id, ctx.local_now())
        if outcome is Recorded.NEW:
            return Reply("study.done_saved", {"number": ep.number})
        if outcome is Recorded.CONFIRMED:
            return Reply("study.done_confirmed", {"number": ep.number})
        return Reply("study.done_already", {"number": ep.number})

    @r.on(Kinds(Kind.IMAGE))
    async def screenshot(msg: Inbound, ctx: Context) -> Reply | None:
        """A member's picture during an open episode is most likely a study screenshot: say kindly
        that it is no proof (the official list is) and how to report. Anyone else's picture goes on."""
        async with ctx.db() as s:
            w = await who(s, msg, ctx)
            if w.member is None or w.episode is None or not w.episode.is_open(ctx.local_now()):
                return None
            done = await completions.of(s, w.episode.id, w.user_id)
        if done is not None and done.confirmed:
            return None
        return Reply("study.screenshot")
