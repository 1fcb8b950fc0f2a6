"""Whether a message typed inside a form (a name, a number, a school) is an answer to it at all.

A form step that meets a command word of the bot (「我的时长」「我的课程」) or, for a name, a
question or a programme's words, returns None: the message reaches the other routes, and the
flow guard adds that the form still waits (``bot.gateway.flows``). Without this, 「我的时长」
typed while a name was asked became the name.
"""

from __future__ import annotations

import re

from bot.context import Context
from bot.router.filters import Command
from bot.text import command_forms, normalise

#: What no one's name holds: question words, pronouns, "的", and the programmes' own words.
_NOT_IN_A_NAME = (
    "的",
    "吗",
    "呢",
    "什么",
    "怎么",
    "哪",
    "我",
    "你",
    "志愿",
    "夜校",
    "实习",
    "时长",
    "课程",
    "活动",
    "岗位",
    "学习",
)
#: What marks a question rather than a school, a major or a street.
_QUESTION = ("吗", "什么", "怎么", "哪里", "哪个", "为什么", "?", "？")


def is_command_word(ctx: Context, text: str) -> bool:
    """One of the bot's command words (``content/commands.toml``), matched as ``Command`` matches."""
    return not _every_command(ctx.content.commands).words.isdisjoint(command_forms(text))


def _every_command(commands: dict[str, list[str]]) -> Command:
    """One ``Command`` of all the command words, built once per table (kept with the table itself,
    so that a table's id is never taken for another's)."""
    kept = _EVERY.get(id(commands))
    if kept is None or kept[0] is not commands:
        if len(_EVERY) >= 16:
            _EVERY.clear()
        kept = _EVERY[id(commands)] = (commands, Command([w for words in commands.values() for w in words]))
    return kept[1]


_EVERY: dict[int, tuple[dict[str, list[str]], Command]] = {}


#: Commands said with what they act on (「订阅 设计」「签到 YX1000」): no name, school, major or
#: pick starts with them.
_COMMAND_PREFIXES = ("订阅", "取消订阅", "退订", "签到", "签退")


def is_command(ctx: Context, text: str) -> bool:
    """A command word, or a command said with what it acts on (「订阅 设计」)."""
    return is_command_word(ctx, text) or normalise(text).startswith(_COMMAND_PREFIXES)


def not_a_name(ctx: Context, text: str) -> bool:
    """A command word, or, without a single digit, a question or a programme's words."""
    if is_command(ctx, text):
        return True
    return not any(c.isdigit() for c in text) and any(w in text for w in _NOT_IN_A_NAME)


def not_an_answer(ctx: Context, text: str) -> bool:
    """A command word or a question: not a school, a major, a street or a number."""
    return is_command(ctx, text) or any(w in text for w in _QUESTION)


#: The longest a pick from a short list is typed (「只暂停本期」「一直暂停」, a street); longer,
#: without a digit, is something else (「心情不好，好累」).
CHOICE_CHARS = 6


def not_a_choice(ctx: Context, text: str) -> bool:
    """A command word, or longer than a pick and without a digit: not an answer to a short list."""
    norm = normalise(text)
    return is_command(ctx, text) or (len(norm) > CHOICE_CHARS and not any(c.isdigit() for c in norm))


#: 「报名 1」「报名第2个」「我要报名3」: a line of a list by its number.
_SIGN_UP_NUMBER = re.compile(r"^(?:我要|我想)?报名\s*第?\s*(\d{1,2})\s*(?:个|门|号|项)?$")


def sign_up_number(text: str) -> int | None:
    """The number of 「报名 N」, whichever programme's list it follows (each checks its own)."""
    m = _SIGN_UP_NUMBER.match(normalise(text))
    return int(m.group(1)) if m else None
