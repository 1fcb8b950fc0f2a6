"""The night school's small pure parts: mobile numbers, what a message asks, the no-show rule, the file reader."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy.exc import DBAPIError

from bot.commands.classfile import read_classes
from bot.context import Services
from bot.db.courses.attendance import block_end
from bot.db.courses.catalogue import Existing
from bot.imports import ImportFailed, Table
from bot.model import Inbound, Kind
from handlers.courses.intents import Browse, CheckInCode, SignUpByName, residue, span_in
from handlers.courses.phones import masked, normalise_mobile
from tests.courses.support import NOW, SHANGHAI

STREETS = ["平湖", "布吉", "吉华", "坂田", "南湾", "横岗", "园山", "龙城", "龙岗", "宝龙", "坪地"]


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        ("13800138000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("１３９１２３４５６７８", "13912345678"),
        ("51234567", "51234567"),
        ("9123 4567", "91234567"),
        ("+852 6123 4567", "+85261234567"),
        ("852-51234567", "+85251234567"),
        ("+853 6612 3456", "+85366123456"),
        ("12800138000", None),
        ("1380013800", None),
        ("71234567", None),
        ("+853 51234567", None),
        ("+852 41234567", None),
        ("电话13800138000", None),
    ],
)
def test_mobile_formats(said: str, kept: str | None) -> None:
    assert normalise_mobile(said) == kept


def test_masked() -> None:
    assert masked("13800138000") == "138****8000" and masked("+85261234567") == "+852****4567"


def _text(said: str) -> Inbound:
    return Inbound("wechat", "o-1", Kind.TEXT, 0, text=said)


@pytest.mark.parametrize(
    ("said", "browse"),
    [
        ("夜校有什么课", True),
        ("摄影课", True),
        ("这周的课", True),
        ("坂田的课", True),
        ("青年夜校", True),
        ("今晚有课吗", True),
        ("书法课还有位置吗", True),
        ("我想学书法", True),
        ("夜校怎么报名", False),
        ("夜校好玩吗", False),
        ("夜校有年龄限制吗", False),
        ("我想学习", False),
        ("夜校收费吗", False),
        ("夜校上课怎么签到", False),
        ("青年大学习", False),
        ("今天天气不错", False),
    ],
)
def test_what_counts_as_browsing(said: str, browse: bool) -> None:
    assert bool(Browse()(_text(said), None)) is browse  # type: ignore[arg-type]


def test_sign_up_by_name_and_codes() -> None:
    assert SignUpByName()(_text("报名摄影课"), None) == {"name": "摄影"}  # type: ignore[arg-type]
    assert SignUpByName()(_text("报名夜校"), None) == {"name": ""}  # type: ignore[arg-type]
    assert SignUpByName()(_text("报名"), None) is False  # type: ignore[arg-type]
    assert CheckInCode()(_text("签到 yx4821"), None) == {"code": "YX4821"}  # type: ignore[arg-type]
    assert CheckInCode()(_text("YX48211"), None) is False  # type: ignore[arg-type]


def test_weeks_and_days_are_read_in_local_time() -> None:
    span, rest = span_in("下周的摄影课", NOW)  # Tuesday 2026-12-01 10:00
    assert span is not None and span.start == datetime(2026, 12, 7, tzinfo=SHANGHAI)
    assert span.end == datetime(2026, 12, 14, tzinfo=SHANGHAI) and residue(rest) == "摄影"
    this_week, _ = span_in("这周的课", NOW)
    assert this_week is not None and this_week.start == NOW and this_week.end == datetime(2026, 12, 7, tzinfo=SHANGHAI)
    weekend, _ = span_in("周末有课吗", NOW)
    assert weekend is not None and weekend.start == datetime(2026, 12, 5, tzinfo=SHANGHAI)
    this_weekend, rest = span_in("这周末有啥课", NOW)
    assert this_weekend == weekend and residue(rest) == ""
    next_weekend, _ = span_in("下周末的课", NOW)
    assert next_weekend is not None and next_weekend.start == datetime(2026, 12, 12, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("said", "topic"),
    [
        ("夜校的课表发一下", ""),
        ("夜校课程表", ""),
        ("有啥好玩的课", ""),
        ("有没有适合零基础的课", ""),
        ("帮我查一下课表", ""),
        ("钢琴课", "钢琴"),
        ("有没有钢琴课啊", "钢琴"),
        ("我想上钢琴课", "钢琴"),
        ("夜校有钢琴吗", "钢琴"),
        ("我想学咖啡", "咖啡"),
    ],
)
def test_only_a_topic_is_left_of_a_browse_query(said: str, topic: str) -> None:
    assert residue(said) == topic


def test_the_no_show_rule() -> None:
    rule = {"limit": 2, "window_days": 90, "block_days": 30}
    day = timedelta(days=1)
    assert block_end([NOW - 100 * day, NOW - 5 * day], NOW, **rule) is None, "more than 90 days apart"
    assert block_end([NOW - 60 * day, NOW - 5 * day], NOW, **rule) == NOW + 25 * day
    assert block_end([NOW - 60 * day, NOW - 40 * day], NOW, **rule) is None, "the block has ended"
    assert block_end([NOW - 5 * day], NOW, **rule) is None
    assert block_end([NOW - 5 * day], NOW, **{**rule, "limit": 1}) == NOW + 25 * day


def test_the_file_reader_keeps_codes_and_names_extra_cells() -> None:
    table = Table(
        ["编号", "主题", "课程", "老师", "地点", "街道", "开始时间", "结束时间", "名额"],
        [
            (2, {"编号": "A", "主题": "摄影", "课程": "入门", "老师": "陈", "地点": "家", "街道": "坂田",
                 "开始时间": "2026-12-05 19:30", "结束时间": "21:00", "名额": "30"}),
        ],
    )  # fmt: skip
    known = {"A": Existing("A", "YX7777", 0)}
    [row] = read_classes(table, STREETS, SHANGHAI, known)
    assert row.record.checkin_code == "YX7777" and row.record.ends_at == datetime(2026, 12, 5, 21, tzinfo=SHANGHAI)
    table.rows[0][1]["\x00extra"] = "x"
    with pytest.raises(ImportFailed, match="第 2 行：这一行的列比表头多"):
        read_classes(table, STREETS, SHANGHAI, known)


async def test_a_failing_signup_work_fails_alone_and_the_next_gets_a_fresh_session(services: Services) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.db.courses import sessions

    async def broken(s: AsyncSession) -> int:
        await s.execute(text("SELECT 1 / 0"))
        return 0

    async def fine(s: AsyncSession) -> int:
        return int((await s.execute(text("SELECT 41 + 1"))).scalar_one())

    results = await asyncio.gather(
        sessions.seated(services.db, broken), sessions.seated(services.db, fine), return_exceptions=True
    )
    assert isinstance(results[0], DBAPIError) and results[1] == 42
    assert await sessions.seated(services.db, fine) == 42
