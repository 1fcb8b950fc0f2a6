"""Filters marked ``by_text`` judge by the message's kind and text alone, and the router's memory of
their refusals (``Router.dispatch``) answers exactly as walking every route would."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.content import load_content
from bot.context import Context
from bot.model import Inbound, Kind, Reply
from bot.router import Router
from bot.router.filters import Command, HasText
from bot.services import load_analyzer
from bot.session.base import Session
from handlers import build_router

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: Texts people send, beside every command word, FAQ question and example, and street.
TEXTS = [
    "",
    " ",
    "1",
    "4",
    "12",
    "更多",
    "报名",
    "报名#3",
    "课程#12",
    "取消报名#5",
    "候补#2",
    "YX4821",
    "签到 yx4821",
    "签到",
    "签退",
    "签到 381204",
    "381204",
    "BT01",
    "支部码 PH02",
    "报名摄影课",
    "报名志愿活动",
    "摄影课",
    "这周的课",
    "坂田的课",
    "我想学画画",
    "我的课程呢",
    "我的时长",
    "我的志愿时长是多少",
    "我报了哪些志愿",
    "周末的志愿活动",
    "附近有什么志愿活动",
    "坂田的志愿项目",
    "实习岗位",
    "设计",
    "坂田 数据分析",
    "订阅 设计",
    "取消订阅 设计",
    "我投了哪些",
    "这周学了吗",
    "这周的青年大学习学了吗",
    "别提醒我了",
    "人工：志愿证书怎么开",
    "人工",
    "心情不好，好累",
    "我不想活了",
    "哈哈哈哈哈",
    "谢谢",
    "你好",
    "ok",
    "help",
    "我想问一下那个东西还有没有",
    "今天天气怎么样",
    "你们周末有人值班吗？",
    "隐私",
    "我的信息怎么删除",
]


class _OnlyTheClock:
    """A context that holds nothing but a clock: a ``by_text`` filter that reaches for anything else fails."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def local_now(self) -> datetime:
        return self._now

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a by_text filter read ctx.{name}")


@pytest.fixture(scope="module")
def root() -> Router:
    content = load_content(None)
    return build_router(content, load_analyzer(content))


def _corpus(root: Router) -> list[str]:
    content = load_content(None)
    words = sorted({w for r in root.routes() for f in r.filters if type(f) is Command for w in f.words})
    faq = [q for e in content.faq for q in (e.question, *e.examples)]
    return [*TEXTS, *words, *faq, *content.streets]


@pytest.mark.parametrize("kind", [Kind.TEXT, Kind.VOICE, Kind.IMAGE])
def test_by_text_filters_read_nothing_but_the_text_and_agree_at_any_time(root: Router, kind: Kind) -> None:
    clocks = [datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI), datetime(2026, 12, 5, 23, 30, tzinfo=SHANGHAI)]
    marked = {id(f): f for r in root.routes() for f in r.filters if getattr(f, "by_text", False) is True}
    assert len(marked) > 30, "the filters that judge by the text are marked"
    checked = 0
    for text in _corpus(root):
        msg = Inbound(channel="wechat", user_id="o-text", kind=kind, created_at=0, text=text)
        for flt in marked.values():
            verdicts = [bool(flt(msg, _OnlyTheClock(now))) for now in clocks]  # type: ignore[arg-type]
            assert verdicts[0] == verdicts[1], f"{type(flt).__name__} on {text!r} changes with the time"
            checked += 1
    assert checked > 10_000


async def test_a_remembered_refusal_is_skipped_and_a_context_filter_is_asked_again() -> None:
    calls: list[str] = []

    class Text:
        by_text = True

        def __init__(self, word: str) -> None:
            self.word = word

        def __call__(self, msg: Inbound, ctx: Context) -> bool:
            calls.append(f"text:{self.word}")
            return self.word in msg.text

    def flag(msg: Inbound, ctx: Context) -> bool:
        calls.append("flag")
        return ctx.session.data.get("flag") is True

    r = Router("t")

    async def a(msg: Inbound, ctx: Context) -> Reply:
        return Reply(text="a")

    async def b(msg: Inbound, ctx: Context) -> Reply:
        return Reply(text="b")

    async def c(msg: Inbound, ctx: Context, text: str) -> Reply | None:
        return None if "none" in text else Reply(text="c")

    r.on(Text("甲"))(a)
    r.on(flag)(b)
    r.on(HasText(), Text("乙"))(c)
    r.on(Text(""))(a)

    def ctx(on: bool) -> Context:
        session = Session()
        session.data["flag"] = on
        return Context(services=None, session=session)  # type: ignore[arg-type]

    msg = Inbound(channel="wechat", user_id="o", kind=Kind.TEXT, created_at=0, text="乙 none")
    found = await r.dispatch(msg, ctx(False))
    assert found is not None and found[1].text == "a"  # 甲 refused, flag refused, c returned None, the last took it
    assert calls == ["text:甲", "flag", "text:乙", "text:"]
    calls.clear()
    found = await r.dispatch(msg, ctx(True))
    assert found is not None and found[1].text == "b", "the context filter is asked again, and now takes it"
    assert calls == ["flag"], "the text's refusal by 甲 is remembered"
    calls.clear()
    other = Inbound(channel="wechat", user_id="o", kind=Kind.TEXT, created_at=0, text="甲")
    found = await r.dispatch(other, ctx(False))
    assert found is not None and found[1].text == "a" and calls == ["text:甲"], "another text is its own"


def test_the_memory_of_texts_is_bounded() -> None:
    from bot.router import MAX_TEXTS

    r = Router("t")

    async def a(msg: Inbound, ctx: Context, text: str) -> Reply:
        return Reply(text="a")

    r.on(HasText())(a)
    plan = r._plan(Kind.TEXT, None)
    for n in range(MAX_TEXTS + 10):
        plan.remember(str(n), plan.routes, [])
    assert len(plan.walks) <= MAX_TEXTS
