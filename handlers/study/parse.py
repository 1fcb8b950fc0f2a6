"""Reading what members type to the study programme: branch codes, names, and dates shown back."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.context import Context
from bot.model import Inbound, Kind

#: A branch code as printed for members: letters then digits, e.g. BT01, LG-PH-12.
CODE = re.compile(r"[A-Za-z]{1,6}(?:-?[A-Za-z]{1,6})?-?\d{1,6}")
#: "绑定 BT01", "支部码：BT01": an explicit code, answered even when it is unknown.
PREFIXED = re.compile(r"^(?:绑定支部|绑定团支部|绑定|支部码|支部编码|支部)\s*[:：]?\s*(?P<code>[A-Za-z0-9-]+)$")
#: QR scenes of branches: ``branch-<code>`` (the prefix keeps other programmes' scenes apart).
SCENE_PREFIX = "branch-"
MOBILE = re.compile(r"1\d{10}")
#: Chinese names are two to four characters; names of minorities join parts with a middle dot.
NAME = re.compile(r"[\u4e00-\u9fff]{2,5}|[\u4e00-\u9fff]{1,8}(?:[·•][\u4e00-\u9fff]{1,8}){1,3}|[A-Za-z]{2,20}")
WEEKDAYS = "一二三四五六日"


def _clean(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().rstrip("。.!！")


def bare_code(text: str) -> str | None:
    """The message is nothing but something shaped like a branch code."""
    text = _clean(text)
    return text.upper() if CODE.fullmatch(text) else None


def prefixed_code(text: str) -> str | None:
    found = PREFIXED.match(_clean(text))
    return found["code"].upper() if found else None


def any_code(text: str) -> str:
    """Inside the binding flow every answer is read as a code."""
    return prefixed_code(text) or _clean(text).upper()


def identity(text: str) -> tuple[str, str, str] | None:
    """(name, mobile, member id) from 「张三」, 「张三 13800138000」 or 「张三，团员编号 1234567」; None if no name."""
    tokens = [t for t in re.split(r"[\s,，、;；/]+", _clean(text)) if t]
    name = mobile = member_no = ""
    for token in tokens:
        token = token.removeprefix("团员编号").removeprefix("编号").removeprefix("手机号").strip(":：")
        if not token:
            continue
        if MOBILE.fullmatch(token) and not mobile:
            mobile = token
        elif token.isalnum() and any(c.isdigit() for c in token) and token.isascii() and not member_no:
            member_no = token
        elif NAME.fullmatch(token) and not name:
            name = token
        else:
            return None
    return (name, mobile, member_no) if name else None


def when(moment: datetime, tz: ZoneInfo) -> str:
    """12月6日（周日）22:00, in the deployment's time zone."""
    local = moment.astimezone(tz)
    return f"{local.month}月{local.day}日（周{WEEKDAYS[local.weekday()]}）{local:%H:%M}"


class BranchScene:
    """A follow or scan through a branch's QR code (``branch-<code>``); passes ``code``."""

    kinds = frozenset({Kind.SUBSCRIBE, Kind.SCAN})

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        if not msg.key.startswith(SCENE_PREFIX):
            return False
        return {"code": msg.key[len(SCENE_PREFIX) :].upper()}


class BranchCode:
    """A text that is a branch code, bare (``explicit`` False) or after 「绑定」/「支部码」; passes both."""

    #: Judges by the message's kind and text alone (``bot.router``: a refusal holds for that text).
    by_text = True

    kinds = frozenset({Kind.TEXT})

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        if msg.kind is not Kind.TEXT or not msg.text or len(msg.text) > 40:
            return False
        code = prefixed_code(msg.text)
        if code is not None:
            return {"code": code, "explicit": True}
        code = bare_code(msg.text)
        return {"code": code, "explicit": False} if code else False
