"""How a class reads in a chat: its time, its line in a list, its seats."""

from __future__ import annotations

from datetime import datetime, tzinfo

from bot.content import Content
from bot.db.courses.catalogue import ClassView

WEEKDAYS = "一二三四五六日"


def day(at: datetime, tz: tzinfo) -> str:
    local = at.astimezone(tz)
    return f"{local.month}月{local.day}日（周{WEEKDAYS[local.weekday()]}）"


def when(starts_at: datetime, ends_at: datetime, tz: tzinfo) -> str:
    """12月5日（周六）19:30–21:00"""
    start, end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    return f"{day(start, tz)}{start:%H:%M}–{end:%H:%M}"


def clock(at: datetime, tz: tzinfo) -> str:
    return f"{at.astimezone(tz):%H:%M}"


def seats(content: Content, cls: ClassView) -> str:
    if cls.seats_left > 0:
        return content.text("courses.seats_left", left=cls.seats_left, capacity=cls.capacity)
    return content.text("courses.seats_full", waiting=cls.waiting)


def line(index: int, cls: ClassView, tz: tzinfo) -> str:
    """1. 【手机摄影】光影入门｜12月5日（周六）19:30｜坂田·坂田青年之家｜余8席"""
    start = cls.starts_at.astimezone(tz)
    left = f"余{cls.seats_left}席" if cls.seats_left else "已满可候补"
    place = cls.venue if cls.venue.startswith(cls.street) else f"{cls.street}·{cls.venue}"
    return f"{index}. 【{cls.theme}】{cls.title}｜{day(start, tz)}{start:%H:%M}｜{place}｜{left}"


def hours(seconds: int) -> str:
    """7200 -> "2小时", 5400 -> "90分钟"."""
    return f"{seconds // 3600}小时" if seconds % 3600 == 0 else f"{seconds // 60}分钟"
