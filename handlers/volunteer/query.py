"""Reading what a volunteer wrote: a project search (where, when), or a question about their own hours or signups."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.text import command_form, normalise

#: A search names volunteering and what to look for; a how-question is the FAQ's.
_TOPIC = ("志愿", "义工", "志原")  # 志原: the typo pinyin input makes
#: Volunteering alone (「志愿者」「义工」) asks for the projects too.
_BARE = frozenset({"志愿", "志愿者", "义工", "志工", "做义工", "做志愿者", "找义工"})
#: 「我的志愿时长是多少」「我几星了」: the volunteer's own figures (a how-question is the FAQ's).
_HOURS = ("时长", "时数", "小时数", "多少小时", "几星", "几颗星", "星级")
_ABOUT_THE_RULES = ("怎么", "如何", "怎样", "计算", "规则", "标准", "是什么", "什么是", "没记", "不对", "少了")
#: 「我报名的志愿活动」「我报了哪些志愿项目」: the volunteer's own signups.
_MINE = re.compile(r"我(?:的|报的|报名的|报了|报名了)(?:哪些|什么|啥)?(?:志愿|义工)者?(?:活动|项目|服务|班次)?")
_OBJECT = ("活动", "项目", "服务")
#: Activities of other programmes: 「周末的夜校活动」 is not a volunteer project.
_ELSEWHERE = ("夜校", "课", "实习", "岗位", "大学习", "讲堂", "普法", "禁毒", "少工委", "吃喝玩乐")
_QUESTION = ("怎么", "如何", "是什么", "为什么", "能不能", "怎样")
_NEARBY = ("附近", "身边", "周边", "离我近", "旁边")
#: How far ahead a search without a date looks.
DEFAULT_DAYS = 30


@dataclass(slots=True, frozen=True)
class Query:
    since: datetime
    until: datetime
    street: str | None = None
    nearby: bool = False
    #: The date words as the volunteer wrote them (「周末」), for the heading; "" when none.
    when: str = ""


def _midnight(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def _window(text: str, now: datetime) -> tuple[datetime, datetime, str]:
    """[since, until) for the date words in ``text``; ``now`` is local (Asia/Shanghai)."""
    today = _midnight(now)
    monday = today - timedelta(days=today.weekday())
    if "下周末" in text:
        start = monday + timedelta(days=12)
        return start, start + timedelta(days=2), "下周末"
    if "周末" in text:
        start = monday + timedelta(days=5)
        return max(start, now), start + timedelta(days=2), "周末"
    if "下周" in text:
        start = monday + timedelta(days=7)
        return start, start + timedelta(days=7), "下周"
    if "本周" in text or "这周" in text:
        return now, monday + timedelta(days=7), "本周"
    for word, offset in (("今天", 0), ("明天", 1), ("后天", 2)):
        if word in text:
            start = today + timedelta(days=offset)
            return max(start, now), start + timedelta(days=1), word
    return now, now + timedelta(days=DEFAULT_DAYS), ""


def asks_own_hours(text: str) -> bool:
    norm = normalise(text)
    mine = "我" in norm or norm.startswith("查")
    return len(norm) <= 20 and mine and any(h in norm for h in _HOURS) and not any(r in norm for r in _ABOUT_THE_RULES)


def asks_own_signups(text: str) -> bool:
    return _MINE.fullmatch(command_form(text).rstrip("吗")) is not None


def parse(text: str, streets: list[str], clock: Callable[[], datetime]) -> Query | None:
    """A search, or None when ``text`` is not one (「志愿时长怎么查」 is a question, not a search).

    ``clock`` gives the local time, asked only for a search (most texts are none).
    """
    norm = normalise(text)
    if command_form(text) in _BARE:
        now = clock()
        return Query(now, now + timedelta(days=DEFAULT_DAYS))
    if not any(o in norm for o in _OBJECT) or any(q in norm for q in _QUESTION) or "时长" in norm:
        return None
    now = clock()
    found = [s for s in streets if s in norm]
    since, until, when = _window(norm, now)
    nearby = any(n in norm for n in _NEARBY)
    # Without 志愿: 「周末有什么活动」「附近的活动」 (activities with a when or a where) are the
    # volunteer projects, unless another programme is named.
    activities = "活动" in norm and bool(when or nearby or found) and not any(o in norm for o in _ELSEWHERE)
    if not activities and not any(t in norm for t in _TOPIC):
        return None
    return Query(since, until, found[0] if len(found) == 1 else None, nearby, when)
