"""Care: crisis words before everything, a person to talk to, small talk, English, the privacy answer.

Two routers. ``safety`` goes first in ``handlers/__init__.py`` (before every flow): crisis words
and the staff-inbox flow, which takes whatever the person writes next. ``router`` goes after the
programmes and before welcome/menu/FAQ: 「人工」, 联系我们, small talk, 「取消」 with nothing running,
low mood, English.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from bot.content import Content
from bot.context import Context
from bot.model import Button, Inbound, Kind, Reply
from bot.router import Router
from bot.router.filters import Command, HasText, InState, Kinds, MenuKey
from bot.text import Analyzer, normalise
from handlers.answers import sign_up_number
from handlers.care import inbox
from handlers.care.config import care_content
from handlers.care.crisis import LOW_MOOD, CrisisWords, crisis_words
from handlers.care.inbox import InboxFlow

_SAID = frozenset({Kind.TEXT, Kind.VOICE})


class _Crisis:
    """The message signals a crisis: passes ``category`` (self_harm, abuse, danger, bullying)."""

    #: Judges by the message's kind and text alone (``bot.router``: a refusal holds for that text).
    by_text = True

    kinds = _SAID

    def __init__(self, words: CrisisWords) -> None:
        self.words = words

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        if not msg.text:
            return False
        found = self.words.classify(msg.text)
        return {"category": found} if found is not None and found != LOW_MOOD else False


class _LowMood:
    #: Judges by the message's kind and text alone (``bot.router``: a refusal holds for that text).
    by_text = True

    kinds = _SAID

    def __init__(self, words: CrisisWords) -> None:
        self.words = words

    def __call__(self, msg: Inbound, ctx: Context) -> bool:
        return bool(msg.text) and self.words.classify(msg.text) == LOW_MOOD


class _InAny:
    def __init__(self, *states: Any) -> None:
        self.states = states

    def __call__(self, msg: Inbound, ctx: Context) -> bool:
        return any(ctx.session.in_state(s) for s in self.states)


class _Words:
    """The message's words (jieba, synonyms folded) include ``want`` and none of ``unless``."""

    #: Judges by the message's kind and text alone (``bot.router``: a refusal holds for that text).
    by_text = True

    kinds = _SAID

    def __init__(self, analyzer: Analyzer, want: str, unless: tuple[str, ...] = ()) -> None:
        self.analyzer, self.want, self.unless = analyzer, want, unless

    def __call__(self, msg: Inbound, ctx: Context) -> bool:
        if not msg.text.strip():
            return False
        words = self.analyzer.analyse(msg.text).words
        return self.want in words and not any(u in words for u in self.unless)


class _MessageForStaff:
    """「人工：……」「留言 ……」: a word asking for staff, then the message; passes ``said``."""

    #: Judges by the message's kind and text alone (``bot.router``: a refusal holds for that text).
    by_text = True

    kinds = _SAID

    def __init__(self, words: list[str]) -> None:
        alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        self.pattern = re.compile(rf"^\s*(?:{alternatives})\s*[:：,，。!！\s]\s*(?P<said>\S.*)$", re.DOTALL)

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        found = self.pattern.match(msg.text)
        return {"said": found.group("said").strip()} if found else False


_HAN = re.compile(r"[\u3400-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
_LAUGH = re.compile(r"(?:[哈呵嘿嘻h]{2,}|2333*|hahaha*|lo+l|[😂🤣😄😆]+)", re.IGNORECASE)


def _english(msg: Inbound, ctx: Context) -> bool:
    """Written in English: Latin words, no Chinese, more than a stray abbreviation ("QQ", "ok")."""
    text = msg.text
    if not text or _HAN.search(text) or "://" in text or "www." in text:
        return False  # a pasted link is not someone writing English
    words = _LATIN_WORD.findall(text)
    return len(words) >= 2 or any(len(w) >= 4 for w in words)


def _laughing(msg: Inbound, ctx: Context) -> bool:
    return bool(msg.text) and _LAUGH.fullmatch(msg.text.strip().rstrip("!！~～。.")) is not None


#: WeChat's own faces arrive as text: 「[微笑]」, or the old codes 「/::)」「/:rose」.
_WECHAT_FACE = re.compile(r"\[[^\[\]\s]{1,4}\]|/:[^\s/]{1,8}")


class _OnlyFaces:
    """Emoji or WeChat faces and nothing else (「👍」「[微笑]」): no words to answer, no question."""

    #: Judges by the message's kind and text alone (``bot.router``: a refusal holds for that text).
    by_text = True

    kinds = frozenset(_SAID)

    def __call__(self, msg: Inbound, ctx: Context) -> bool:
        if not msg.text or not msg.text.strip():
            return False
        rest = _WECHAT_FACE.sub("", msg.text)
        return not any(c in rest for c in "?？") and all(unicodedata.category(c) in _FACE_CATEGORIES for c in rest)


#: Symbols, modifiers, joiners and variation selectors, spaces: what emoji are made of.
_FACE_CATEGORIES = frozenset({"So", "Sk", "Mn", "Cf", "Zs"})


class _BareSignUp:
    """「报名」 (or 「报名 1」) with nothing shown before it (a class, a list or a project shown takes it first)."""

    #: Judges by the message's kind and text alone (``bot.router``: a refusal holds for that text).
    by_text = True

    kinds = frozenset(_SAID)
    words = frozenset({"报名", "我要报名", "我想报名", "报个名", "我要报个名", "我想报个名"})

    def __call__(self, msg: Inbound, ctx: Context) -> bool:
        # 「报名 1」 too, when no list it could pick from was shown (each list takes its own first).
        return normalise(msg.text) in self.words or sign_up_number(msg.text) is not None


_CRISIS_KEYS = {
    "self_harm": "care.crisis_self_harm",
    "abuse": "care.crisis_abuse",
    "danger": "care.crisis_danger",
    "bullying": "care.crisis_bullying",
}


def safety(content: Content, analyzer: Analyzer) -> Router:
    """Crisis words and the staff-inbox flow: first of all routers."""
    r = Router("care.safety", first=True)
    care = care_content(content)
    words = crisis_words(content)
    ends = Command([*content.commands["done"], *content.commands["ok"], *content.commands["thanks"]])
    cancel = Command(content.commands["cancel"])

    @r.on(_Crisis(words))
    async def crisis(msg: Inbound, ctx: Context, category: str) -> Reply:
        again = ctx.session.in_state(InboxFlow.talking) and ctx.data.get("crisis")
        context = {} if again else {"via": "crisis", "recent": inbox.recent_context(ctx)}
        await inbox.to_staff(ctx, msg, msg.text, reason=category, context=context)
        if again:
            # The whole answer once is caring; the same block after every message is a machine.
            return Reply("care.crisis_again")
        inbox.enter(ctx, InboxFlow.talking, crisis=category)
        return Reply(_CRISIS_KEYS[category], {"hours": care.office.hours})

    @r.on(_InAny(InboxFlow.waiting, InboxFlow.talking), Command(content.commands["help"]))
    async def help_leaves_the_inbox(msg: Inbound, ctx: Context) -> None:
        # 「帮助」 is not a message for staff: the flow ends and the help route answers.
        ctx.finish()

    @r.on(InState(InboxFlow.waiting), cancel)
    async def not_leaving_a_message(msg: Inbound, ctx: Context) -> Reply:
        ctx.finish()
        return Reply("care.inbox_cancelled")

    @r.on(InState(InboxFlow.talking), Command([*content.commands["cancel"], *content.commands["bye"]]))
    async def stopped(msg: Inbound, ctx: Context) -> Reply:
        ctx.finish()
        return Reply("care.inbox_stopped", {"hours": care.office.hours})

    @r.on(InState(InboxFlow.talking), ends)
    async def done(msg: Inbound, ctx: Context) -> Reply:
        ctx.finish()
        return Reply("care.inbox_done", {"hours": care.office.hours})

    @r.on(Kinds(*_SAID), _InAny(InboxFlow.waiting, InboxFlow.talking), HasText())
    async def message(msg: Inbound, ctx: Context, text: str) -> Reply:
        first = ctx.session.in_state(InboxFlow.waiting)
        context = {"via": ctx.data.get("via", "人工"), "recent": ctx.data.get("recent", [])} if first else {}
        if not await inbox.to_staff(ctx, msg, text, reason="message", context=context):
            return Reply("care.inbox_not_saved")  # never "收到" for a message nobody will see
        if first:
            inbox.enter(ctx, InboxFlow.talking)
            return Reply("care.inbox_saved", {"hours": care.office.hours})
        return Reply("care.inbox_added")

    return r


def router(content: Content, analyzer: Analyzer) -> Router:
    """「人工」, 联系我们, small talk, low mood, English, privacy: after the programmes, before the FAQ."""
    r = Router("care")
    care = care_content(content)
    words = crisis_words(content)
    commands = content.commands

    async def ask(msg: Inbound, ctx: Context, via: str) -> Reply:
        inbox.enter(ctx, InboxFlow.waiting, via=via, recent=inbox.recent_context(ctx))
        return Reply("care.inbox_ask", {"hours": care.office.hours})

    @r.on(Command(commands["cancel"]))
    async def cancel(msg: Inbound, ctx: Context) -> Reply:
        if ctx.session.state is None:
            return Reply("care.nothing_to_cancel")
        # A flow that has no cancel route of its own: end it all the same.
        ctx.finish()
        return Reply("system.cancelled")

    @r.on(Command(commands["human"]))
    async def human(msg: Inbound, ctx: Context) -> Reply:
        return await ask(msg, ctx, "人工")

    @r.on(_MessageForStaff(commands["human"]))
    async def human_with_message(msg: Inbound, ctx: Context, said: str) -> Reply:
        # 「人工：志愿证书怎么开」 is the message itself: kept now, and the talk stays open for more.
        context = {"via": "人工", "recent": inbox.recent_context(ctx)}
        if not await inbox.to_staff(ctx, msg, said, reason="message", context=context):
            return Reply("care.inbox_not_saved")
        inbox.enter(ctx, InboxFlow.talking)
        return Reply("care.inbox_saved", {"hours": care.office.hours})

    @r.on(MenuKey("CONTACT"))
    async def contact_menu(msg: Inbound, ctx: Context, key: str) -> Reply:
        inbox.enter(ctx, InboxFlow.waiting, via="菜单「联系我们」", recent=inbox.recent_context(ctx))
        return Reply("care.contact_menu", inbox.contact_params(care, content.text))

    @r.on(Command(commands["contact"]))
    async def contact(msg: Inbound, ctx: Context) -> Reply:
        return Reply("care.contact", inbox.contact_params(care, content.text), buttons=[Button("我要留言")])

    @r.on(_Words(analyzer, "隐私"))
    async def privacy(msg: Inbound, ctx: Context) -> Reply:
        settings = ctx.settings
        days = {
            "unanswered_days": settings.unanswered_days,
            "inbox_days": settings.inbox_days,
            "session_days": max(1, settings.session_ttl // 86400),
        }
        return Reply("care.privacy", days)

    @r.on(_Words(analyzer, "人工", unless=("机器人",)))
    async def asking_for_staff(msg: Inbound, ctx: Context) -> Reply:
        return Reply("care.contact", inbox.contact_params(care, content.text), buttons=[Button("我要留言")])

    @r.on(_LowMood(words))
    async def low_mood(msg: Inbound, ctx: Context) -> Reply:
        return Reply("care.low_mood")

    @r.on(Command(commands["greeting"]))
    async def greeting(msg: Inbound, ctx: Context) -> Reply:
        return Reply("care.greeting")

    @r.on(Command(commands["thanks"]))
    async def thanks(msg: Inbound, ctx: Context) -> Reply:
        return Reply("care.thanks")

    @r.on(Command(commands["bye"]))
    async def bye(msg: Inbound, ctx: Context) -> Reply:
        return Reply("care.bye")

    @r.on(Command(commands["laugh"]))
    async def laugh(msg: Inbound, ctx: Context) -> Reply:
        return Reply("care.laugh")

    @r.on(Kinds(*_SAID), _laughing)
    async def laughing(msg: Inbound, ctx: Context) -> Reply:
        return Reply("care.laugh")

    @r.on(Command(commands["ok"]))
    async def ok(msg: Inbound, ctx: Context) -> Reply:
        return Reply("care.ok")

    @r.on(Command(commands["received"]))
    async def received(msg: Inbound, ctx: Context) -> Reply:
        return Reply("care.received")

    @r.on(_OnlyFaces())
    async def faces(msg: Inbound, ctx: Context) -> Reply:
        return Reply("care.faces")

    @r.on(_BareSignUp())
    async def which_sign_up(msg: Inbound, ctx: Context) -> Reply:
        return Reply("care.which_sign_up")

    @r.on(Kinds(*_SAID), _english)
    async def english(msg: Inbound, ctx: Context) -> Reply:
        return Reply("care.english")

    return r
