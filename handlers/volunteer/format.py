"""How volunteering dates, times and lists read in a chat (Asia/Shanghai, Chinese conventions)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.content import Content


def day(content: Content, d: date) -> str:
    """12月5日（周六）"""
    weekdays = content.text("volunteer.weekdays")
    return f"{d.month}月{d.day}日（周{weekdays[d.weekday()]}）"


def clock(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%H:%M")


def span(content: Content, starts: datetime, ends: datetime, tz: ZoneInfo) -> str:
    """12月5日（周六）09:00–12:00"""
    return f"{day(content, starts.astimezone(tz).date())}{clock(starts, tz)}–{clock(ends, tz)}"


def numbered(lines: list[str]) -> str:
    return "\n".join(lines)
