"""Pausing and resuming study reminders: for this episode only, or until the member resumes."""

from __future__ import annotations

from bot.content import Content
from bot.context import Context
from bot.db.study import members
from bot.model import Button, Inbound, Kind, Reply
from bot.router import Router
from bot.router.filters import Command, HasText, InState
from bot.session.base import State, StatesGroup
from bot.text import normalise
from handlers.answers import not_a_choice
from handlers.study.common import is_paused, who

#: Answers to the pause question: 1 (this episode) or 2 (until resumed), in words too.
THIS_EPISODE = frozenset({"1", "本期", "只暂停本期", "这期", "本周"})
UNTIL_RESUMED = frozenset({"2", "一直", "一直暂停", "长期", "全部"})


#: 「别提醒我了」「不要再催了」: a wish to stop the study reminders, said in a sentence.
_STOP_WORDS = (
    "别提醒",
    "别再提醒",
    "不要提醒",
    "不要再提醒",
    "不用提醒",
    "不用再提醒",
    "别催",
    "别再催",
    "不要催",
    "不要再催",
    "取消提醒",
    "关闭提醒",
    "关掉提醒",
    "不想收到提醒",
)
#: ... unless it names another programme's reminder (a class's: 「取消报名」 stops it).
_OTHERS = ("夜校", "课", "志愿", "实习", "订阅")


class StopReminding:
    #: Judges by the message's kind and text alone (``bot.router``: a refusal holds for that text).
    by_text = True

    kinds = frozenset({Kind.TEXT, Kind.VOICE})

    def __call__(self, msg: Inbound, ctx: Context) -> bool:
        said = normalise(msg.text)
        return len(said) <= 16 and any(w in said for w in _STOP_WORDS) and not any(o in said for o in _OTHERS)


class StudyPauseFlow(StatesGroup):
    title_key = "flows.study_pause"
    choosing = State()


def register(r: Router, content: Content) -> None:
    cancel = Command(content.commands["cancel"])

    @r.on(InState(StudyPauseFlow.choosing), cancel)
    async def cancelled(msg: Inbound, ctx: Context) -> Reply:
        ctx.finish()
        return Reply("system.cancelled")

    @r.on(InState(StudyPauseFlow.choosing), HasText())
    async def chosen(msg: Inbound, ctx: Context, text: str) -> Reply | None:
        answer = normalise(text)
        if answer not in THIS_EPISODE | UNTIL_RESUMED:
            if not_a_choice(ctx, text):
                return None  # 「人工」, a question: answered as anywhere, and the choice waits
            return Reply("study.pause_invalid")
        episode_id, number = ctx.data.get("episode_id"), ctx.data.get("number")
        only_this = answer in THIS_EPISODE and isinstance(episode_id, int)
        async with ctx.db() as s:
            w = await who(s, msg, ctx)
            bound = await members.set_pause(
                s, w.user_id, paused=not only_this, episode_id=episode_id if only_this else None
            )
        ctx.finish()
        if not bound:
            return Reply("study.pause_unbound")
        return Reply("study.paused_episode", {"number": number}) if only_this else Reply("study.paused")

    @r.on(Command(content.commands["study_pause"]))
    async def pause(msg: Inbound, ctx: Context) -> Reply:
        async with ctx.db() as s:
            w = await who(s, msg, ctx)
            if w.member is None:
                return Reply("study.pause_unbound")
            ep = w.episode
            if ep is None or not ep.is_open(ctx.local_now()):
                # No episode running: "this episode only" would mean nothing.
                await members.set_pause(s, w.user_id, paused=True, episode_id=None)
                return Reply("study.paused")
        ctx.enter(StudyPauseFlow.choosing, episode_id=ep.id, number=ep.number)
        return Reply(
            "study.pause_ask",
            {"number": ep.number},
            buttons=[Button("只暂停本期", payload="1"), Button("一直暂停", payload="2")],
        )

    r.on(StopReminding())(pause)

    @r.on(Command(content.commands["study_resume"]))
    async def resume(msg: Inbound, ctx: Context) -> Reply:
        async with ctx.db() as s:
            w = await who(s, msg, ctx)
            if w.member is None:
                return Reply("study.pause_unbound")
            if not is_paused(w.member, w.episode) and w.member.paused_episode_id is None:
                return Reply("study.resumed_already")
            await members.set_pause(s, w.user_id, paused=False, episode_id=None)
        return Reply("study.resumed")
