"""Filters: small callables deciding whether a handler answers a message (sync: no I/O in them)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.context import Context
from bot.model import Inbound, Kind
from bot.session.base import State
from bot.text import command_forms, normalise


class Command:
    """The whole message is one of the command words (after normalising: "帮助！" is "帮助", and
    a trailing particle goes too: "我的课程呢" is "我的课程")."""

    #: Judges by the message's kind and text alone (``bot.router``: a refusal holds for that text).
    by_text = True

    kinds = frozenset({Kind.TEXT, Kind.VOICE})

    def __init__(self, words: Iterable[str]) -> None:
        # "?" normalises to "" (trailing punctuation goes), so bare punctuation words match raw.
        self.words = frozenset(w for word in words for w in (normalise(word), word.strip()) if w)

    def __call__(self, msg: Inbound, ctx: Context) -> bool:
        if msg.kind not in (Kind.TEXT, Kind.VOICE) or not msg.text:
            return False
        return not self.words.isdisjoint(command_forms(msg.text))


class Kinds:
    """The message or event is of one of these kinds."""

    #: Judges by the message's kind and text alone (``bot.router``: a refusal holds for that text).
    by_text = True

    def __init__(self, *kinds: Kind) -> None:
        self.kinds = frozenset(kinds)

    def __call__(self, msg: Inbound, ctx: Context) -> bool:
        return msg.kind in self.kinds


class MenuKey:
    """A custom-menu CLICK with one of ``keys`` (any key when none given); passes ``key``."""

    kinds = frozenset({Kind.CLICK})

    def __init__(self, *keys: str) -> None:
        self.keys = frozenset(keys)

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        if msg.kind is not Kind.CLICK or (self.keys and msg.key not in self.keys):
            return False
        return {"key": msg.key}


class InState:
    """The conversation is waiting in ``state`` (a step of a multi-step flow)."""

    def __init__(self, state: State) -> None:
        self.state = state

    def __call__(self, msg: Inbound, ctx: Context) -> bool:
        return ctx.session.in_state(self.state)


class HasText:
    """The user said something in words: typed text, or voice the platform recognised."""

    #: Judges by the message's kind and text alone (``bot.router``: a refusal holds for that text).
    by_text = True

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        return {"text": msg.text} if msg.text.strip() else False


class Scene:
    """A follow or a scan through a parametric QR code; passes ``scene`` (the scene id).

    With ``scenes`` given, only those match: a programme claims its own codes (a volunteer
    station's check-in code) ahead of the generic welcome.
    """

    kinds = frozenset({Kind.SUBSCRIBE, Kind.SCAN})

    def __init__(self, scenes: Iterable[str] = ()) -> None:
        self.scenes = frozenset(scenes)

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        if not msg.key or (self.scenes and msg.key not in self.scenes):
            return False
        return {"scene": msg.key}
