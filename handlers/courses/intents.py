"""What a message asks of the night school: filters reading the text (no I/O), and a browse query."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.context import Context
from bot.model import Inbound, Kind
from bot.text import normalise
from handlers.answers import sign_up_number

#: Session data key of the list last shown (ids of its page, the query, when): numbers and 「更多」 read it.
LIST = "courses_list"
#: Session data key of the class last opened: a bare 「报名」 signs up for it.
SHOWN = "courses_shown"
#: A list or a class shown longer ago than this is no longer what "2" or 「报名」 refers to.
FRESH_SECONDS = 30 * 60

SCENE_PREFIX = "class-"
_SCENE = re.compile(r"class-(\d{1,9})")
_CODE = re.compile(r"(?:夜校)?(?:签到码?)?[:：\s]*(yx\d{4})")
#: Tappable lines send these back: 「课程#12」 opens a class, 「报名#12」 signs up ...
_ACTION = re.compile(r"(课程|报名|候补|取消报名)\s*#\s*(\d{1,9})")
ACTIONS = {"课程": "open", "报名": "signup", "候补": "signup", "取消报名": "cancel"}

#: Words that make a message about classes a question for the FAQ rather than a wish to browse.
_QUESTION = (
    "怎么", "如何", "收费", "要钱", "花钱", "费用", "免费", "在哪", "哪里上", "地点", "场地", "签到", "打卡", "扫码",
    "取消", "退掉", "去不了", "候补", "排队", "满了", "提醒", "通知", "缺席", "迟到", "鸽子", "是什么", "干嘛",
    "了解", "介绍", "为什么", "报名", "报个名", "预约", "限制", "要求", "条件", "年龄", "多大",
)  # fmt: skip
_SIGN_UP_PREFIX = ("我要报名", "我想报名", "报名")
#: What says 「报名…」 is a question about signing up, not a class's name.
_ASKS = ("怎么", "怎样", "如何", "什么", "吗", "要不要", "可以", "能不能", "流程", "步骤")
#: What 「报名…」 may name that is not a class.
_OTHER_PROGRAMMES = ("志愿", "义工", "实习", "岗位", "大学习", "讲堂")
_MORE = frozenset({"更多", "下一页", "还有吗", "还有呢"})
SIGN_UP_WORDS = frozenset({"报名", "我要报名", "我想报名", "报名这个", "排候补", "候补"})
#: 「我想学书法」 asks for classes without saying 课.
_WANT_TO_LEARN = ("我想学", "想学", "我想上", "想上")
_MINE = re.compile(
    r"我(?:的|报的|报了|报名的|报名了|都报了|预约的|约了)(?:哪些|什么|啥|几门|几节)?(?:夜校)?(?:课程|课)"
    # 「我报名的课什么时候上」「我的课在哪」: the list says when and where.
    r"(?:是)?(?:什么时候上|什么时候|几点上|几点|哪天上|哪天|在哪里上|在哪上|在哪里|在哪)?"
)


def _said(msg: Inbound) -> str:
    if msg.kind not in (Kind.TEXT, Kind.VOICE) or not msg.text:
        return ""
    return normalise(msg.text)


def _fresh(ctx: Context, key: str) -> Any:
    value = ctx.data.get(key)
    if isinstance(value, dict) and ctx.now() - float(value.get("at", 0)) <= FRESH_SECONDS:
        return value
    return None


class ClassScene:
    """A follow or scan through a class's check-in QR code (scene ``class-<id>``); passes ``class_id``."""

    kinds = frozenset({Kind.SUBSCRIBE, Kind.SCAN})

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        m = _SCENE.fullmatch(msg.key) if msg.key else None
        return {"class_id": int(m.group(1))} if m else False


class CheckInCode:
    """A class's short check-in code, alone or after 「签到」: 「YX4821」「签到 yx4821」; passes ``code``."""

    #: Judges by the message's kind and text alone (``bot.router``: a refusal holds for that text).
    by_text = True

    kinds = frozenset({Kind.TEXT, Kind.VOICE})

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        m = _CODE.fullmatch(_said(msg))
        return {"code": m.group(1).upper()} if m else False


class Action:
    """A tappable line's payload: 「课程#12」「报名#12」「候补#12」「取消报名#12」; passes ``action``, ``class_id``."""

    #: Judges by the message's kind and text alone (``bot.router``: a refusal holds for that text).
    by_text = True

    kinds = frozenset({Kind.TEXT, Kind.VOICE})

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        m = _ACTION.fullmatch(_said(msg).replace("＃", "#"))
        return {"action": ACTIONS[m.group(1)], "class_id": int(m.group(2))} if m else False


class SignUpByName:
    """「报名摄影课」: a wish to sign up for a class named in the message; passes ``name``."""

    #: Judges by the message's kind and text alone (``bot.router``: a refusal holds for that text).
    by_text = True

    kinds = frozenset({Kind.TEXT, Kind.VOICE})

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        said = _said(msg)
        for prefix in _SIGN_UP_PREFIX:
            if said.startswith(prefix) and said not in SIGN_UP_WORDS:
                name = said[len(prefix) :].strip(" ：:的")
                for tail in ("的课程", "的课", "课程", "课"):
                    name = name.removesuffix(tail)
                if any(other in name for other in _OTHER_PROGRAMMES):
                    return False  # 「报名志愿活动」 is for the volunteer projects
                if any(q in name for q in _ASKS) or any(p in name for p in "，,？?"):
                    return False  # 「报名夜校，要怎样做？」 asks how, and names no class: the FAQ answers
                if sign_up_number(said) is not None:
                    return False  # 「报名 1」 with no list of classes before it names no class
                # 「报名夜校」 names no class: the catalogue answers it.
                return {"name": "" if name in ("", "夜校", "青年夜校", "一下") else name}
        return False


class SignUpPick:
    """「报名 1」 right after the list of classes: that line's class; passes ``class_id``."""

    kinds = frozenset({Kind.TEXT, Kind.VOICE})

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        n = sign_up_number(msg.text) if _said(msg) else None
        if n is None:
            return False
        shown = _fresh(ctx, LIST)
        ids = shown.get("ids", []) if shown else []
        return {"class_id": int(ids[n - 1])} if 1 <= n <= len(ids) else False


class SignUpHere:
    """A bare 「报名」 right after a class was shown; passes ``class_id``."""

    kinds = frozenset({Kind.TEXT, Kind.VOICE})

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        if _said(msg) not in SIGN_UP_WORDS:
            return False
        shown = _fresh(ctx, SHOWN)
        return {"class_id": int(shown["id"])} if shown else False


class ListPick:
    """A number picking a line of the list just shown; passes ``class_id``."""

    kinds = frozenset({Kind.TEXT, Kind.VOICE})

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        said = _said(msg)
        if not said.isdigit() or len(said) > 2:
            return False
        shown = _fresh(ctx, LIST)
        ids = shown.get("ids", []) if shown else []
        index = int(said)
        return {"class_id": int(ids[index - 1])} if 1 <= index <= len(ids) else False


class NextPage:
    """「更多」 after a list; passes ``listing`` (what was shown)."""

    kinds = frozenset({Kind.TEXT, Kind.VOICE})

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        if _said(msg) not in _MORE:
            return False
        shown = _fresh(ctx, LIST)
        return {"listing": shown} if shown else False


class Browse:
    """「夜校有什么课」「摄影课」「这周有课吗」「我想学书法」: a wish to see classes; passes ``query`` (the text).

    「吗」 asks something of the FAQ (「夜校好玩吗」) unless it asks whether there is something
    (「今晚有课吗」「书法课还有位置吗」): that is a wish to see the list.
    """

    #: Judges by the message's kind and text alone (``bot.router``: a refusal holds for that text).
    by_text = True

    kinds = frozenset({Kind.TEXT, Kind.VOICE})

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        said = _said(msg)
        if not said or len(said) > 16:
            return False
        wants = said.startswith(_WANT_TO_LEARN) and "学习" not in said  # 「我想学习」 is no topic
        if not ("课" in said or "夜校" in said or wants):
            return False
        if any(word in said for word in _QUESTION) or ("吗" in said and "有" not in said):
            return False
        return {"query": said}


class AfterList:
    """A short word right after the class list (「摄影」「坂田」「周末」, said as its hint invites):
    passes ``query`` for the handler to check against the themes and streets; other words go on."""

    kinds = frozenset({Kind.TEXT, Kind.VOICE})

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        if LIST not in ctx.data or len(msg.text) > 12:  # most messages: no class list was shown
            return False
        said = _said(msg)
        if not said or len(said) > 8 or said.isdigit() or said in _MORE:
            return False
        # 「有周末的吗」「有坂田的吗？」 ask whether there are some: a wish to see them. Other
        # questions (「摄影好玩吗」) are the FAQ's.
        asks = "吗" in said or "?" in said or "？" in said
        if any(word in said for word in _QUESTION) or (asks and "有" not in said):
            return False
        return {"query": said} if _fresh(ctx, LIST) else False


class MyClasses:
    """「我的课」「我报了哪些课」「我报的课呢」: the person's own signups (「我的课程」 is a command)."""

    #: Judges by the message's kind and text alone (``bot.router``: a refusal holds for that text).
    by_text = True

    kinds = frozenset({Kind.TEXT, Kind.VOICE})

    def __call__(self, msg: Inbound, ctx: Context) -> bool:
        return _MINE.fullmatch(_said(msg).rstrip("呢啊呀吗")) is not None


# -- the browse query ---------------------------------------------------------------------------

#: Words that say nothing about which classes (asking, showing, politeness, 「零基础」), longest
#: first, so that 「发一下」 goes whole and never leaves 「发」 behind as a topic.
_FILLER = tuple(
    sorted(
        {
            "青年夜校", "夜校", "夜小", "课程表", "课程", "课表", "时间表", "安排", "有什么", "有哪些", "有没有",
            "有啥", "都开", "开了", "开哪些", "开什么", "哪些", "什么", "最近", "近期", "现在", "看看", "看一下",
            "看下",
            "我想学", "我想上", "我想", "我要", "想要", "想上", "想学", "想报", "一下", "发一下", "发下", "发我",
            "发给我", "给我", "帮我查", "帮我找", "帮我", "查一下", "查下", "推荐", "全部", "所有", "好玩", "有意思",
            "有趣", "适合", "零基础", "入门", "新手", "还有", "位置", "名额", "空位", "点东西", "东西", "点什么",
            "可以", "街道", "的", "课", "都", "有", "呢", "吧", "啊", "呀", "吗", "了", "嘛", "哦", "么", "啥",
            # 「附近的夜校」: the person's own street comes first in every list (``show_list``).
            "附近", "身边", "周边", "离我近", "离我最近", "家门口", "近一点",
            # Cantonese, as Hong Kong and Macau youth write it: 有冇 (有没有), 咩 (什么), 嘅 (的), 啲 (些).
            "有冇", "边啲", "乜嘢", "冇", "咩", "嘅", "啲",
        },
        key=lambda word: (-len(word), word),
    )
)  # fmt: skip
#: A verb left in front of a topic: 「学钢琴」 is 钢琴.
_LEADING_VERB = re.compile(r"^(?:学|上|报|去|参加)(?=..)")
_WEEKS = {"这周": 0, "本周": 0, "这星期": 0, "这个星期": 0, "下周": 1, "下星期": 1, "下个星期": 1}
_DAYS = {"今天": 0, "今晚": 0, "明天": 1, "明晚": 1, "后天": 2}


@dataclass(slots=True, frozen=True)
class Span:
    label: str
    start: datetime
    end: datetime


def span_in(said: str, now: datetime) -> tuple[Span | None, str]:
    """A week or a day named in the text (this week, next week, the weekend, today ...), and the text without it."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    monday = midnight - timedelta(days=now.weekday())
    # The weekend before the weeks: 「这周末」 is the weekend, not the whole week.
    if "下周末" in said:
        saturday = monday + timedelta(days=12)
        return Span("下周末", saturday, saturday + timedelta(days=2)), said.replace("下周末", "")
    if "周末" in said:
        saturday = monday + timedelta(days=5)
        rest = said.replace("这周末", "").replace("本周末", "").replace("周末", "")
        return Span("周末", max(saturday, now), saturday + timedelta(days=2)), rest
    for word, weeks in _WEEKS.items():
        if word in said:
            start = monday + timedelta(weeks=weeks)
            label = "本周" if weeks == 0 else "下周"
            return Span(label, max(start, now), start + timedelta(weeks=1)), said.replace(word, "")
    for word, days in _DAYS.items():
        if word in said:
            start = midnight + timedelta(days=days)
            return Span(word.replace("晚", "天"), max(start, now), start + timedelta(days=1)), said.replace(word, "")
    return None, said


@dataclass(slots=True, frozen=True)
class Part:
    """A part of the day, as local start hours: classes starting in [first, last)."""

    label: str
    first: int
    last: int


#: Parts of the day people name (「有晚上的吗」「周末下午的课」), longest first.
_PARTS = (
    ("下班后", Part("晚上", 18, 24)),
    ("晚上", Part("晚上", 18, 24)),
    ("晚间", Part("晚上", 18, 24)),
    ("夜里", Part("晚上", 18, 24)),
    ("下午", Part("下午", 12, 18)),
    ("中午", Part("中午", 11, 14)),
    ("上午", Part("上午", 0, 12)),
    ("早上", Part("上午", 0, 12)),
    ("白天", Part("白天", 0, 18)),
)


def when_in(said: str, now: datetime) -> tuple[Span | None, Part | None, str]:
    """The days (``span_in``) and the part of the day a text names, and the text without them."""
    span, rest = span_in(said, now)
    for word, part in _PARTS:
        if word in rest:
            return span, part, rest.replace(word, "")
    return span, None, rest


def residue(said: str) -> str:
    """A topic the catalogue may not know: what stands before 「课」 (「钢琴课」), or in a message
    without 「课」 the whole of it (「夜校有钢琴吗」), once filler words are gone. What follows
    「课」 (「课表发一下」「课吗」) never names a topic."""
    head = said.split("课", 1)[0] if "课" in said else said
    for word in _FILLER:
        head = head.replace(word, "")
    head = head.strip(" ，,。?？!！~～、")
    return _LEADING_VERB.sub("", head)
