"""A cadre's file of night-school classes, read and checked row by row before anything is written."""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo

from bot.db.courses.catalogue import ClassRecord, Existing
from bot.imports import ImportFailed, RowError, Table

#: The columns, as the cadres' spreadsheet names them; 签到码 and 状态 may be left out.
COLUMNS = ("编号", "主题", "课程", "老师", "地点", "街道", "开始时间", "结束时间", "名额")
OPTIONAL = ("签到码", "状态")
CODE = re.compile(r"YX\d{4}")
STATUS = {
    "": "open",
    "开放": "open",
    "open": "open",
    "取消": "cancelled",
    "已取消": "cancelled",
    "cancelled": "cancelled",
}
_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S")
_LIMITS = {"编号": 32, "主题": 32, "课程": 64, "老师": 32, "地点": 64}
MAX_CAPACITY = 1000


@dataclass(slots=True, frozen=True)
class Row:
    number: int
    record: ClassRecord


def _time(value: str, tz: tzinfo) -> datetime | None:
    for fmt in _FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=tz)
        except ValueError:
            continue
    return None


def read_classes(table: Table, streets: list[str], tz: tzinfo, known: Mapping[str, Existing]) -> list[Row]:
    """Every row checked (columns, formats, duplicates, codes in use, seats already taken); raises
    ``ImportFailed`` naming each bad value by row and column, before anything is written."""
    table.require(*COLUMNS)
    errors: list[RowError] = []
    rows: list[Row] = []
    refs: dict[str, int] = {}
    codes = {e.checkin_code: e.ref for e in known.values()}
    claimed: dict[str, int] = {}
    for number, values in table.rows:
        bad = len(errors)
        if "\x00extra" in values:
            errors.append(RowError(number, "", "这一行的列比表头多，请检查是否有多余的逗号"))
        for column, limit in _LIMITS.items():
            value = values.get(column, "")
            if not value:
                errors.append(RowError(number, column, "不能为空"))
            elif len(value) > limit:
                errors.append(RowError(number, column, f"最多{limit}个字"))
        ref = values.get("编号", "")
        if ref in refs:
            errors.append(RowError(number, "编号", f"和第 {refs[ref]} 行重复"))
        refs.setdefault(ref, number)
        street = values.get("街道", "").removesuffix("街道")
        if street not in streets:
            errors.append(
                RowError(number, "街道", f"「{values.get('街道', '')}」不是龙岗的街道（{'、'.join(streets)}）")
            )
        starts = _time(values.get("开始时间", ""), tz)
        if starts is None:
            errors.append(RowError(number, "开始时间", "请写成 2026-12-05 19:30 这样的日期和时间"))
        end_text = values.get("结束时间", "")
        ends = _time(end_text, tz)
        if ends is None and starts is not None and re.fullmatch(r"\d{1,2}:\d{2}", end_text):
            ends = _time(f"{starts:%Y-%m-%d} {end_text}", tz)  # 21:00: the same day
        if ends is None:
            errors.append(RowError(number, "结束时间", "请写成 2026-12-05 21:00 或 21:00"))
        elif starts is not None and ends <= starts:
            errors.append(RowError(number, "结束时间", "要晚于开始时间"))
        capacity_text = values.get("名额", "")
        capacity = int(capacity_text) if capacity_text.isdigit() else 0
        if not 1 <= capacity <= MAX_CAPACITY:
            errors.append(RowError(number, "名额", f"请填 1 到 {MAX_CAPACITY} 之间的整数"))
        elif ref in known and capacity < known[ref].seated:
            errors.append(RowError(number, "名额", f"已有 {known[ref].seated} 人报上，名额不能少于这个数"))
        code = values.get("签到码", "").upper()
        if code:
            if not CODE.fullmatch(code):
                errors.append(RowError(number, "签到码", "请写成 YX 加 4 位数字，比如 YX4821"))
            elif codes.get(code, ref) != ref:
                errors.append(RowError(number, "签到码", f"已被编号 {codes[code]} 的课使用"))
            elif code in claimed:
                errors.append(RowError(number, "签到码", f"和第 {claimed[code]} 行重复"))
            claimed.setdefault(code, number)
        status = STATUS.get(values.get("状态", "").lower())
        if status is None:
            errors.append(RowError(number, "状态", "请填「开放」或「取消」（留空为开放）"))
        if len(errors) > bad or starts is None or ends is None or status is None:
            continue
        record = ClassRecord(
            ref=ref,
            theme=values["主题"],
            title=values["课程"],
            teacher=values["老师"],
            venue=values["地点"],
            street=street,
            starts_at=starts,
            ends_at=ends,
            capacity=capacity,
            checkin_code=code,
            status=status,
        )
        rows.append(Row(number, record))
    if errors:
        raise ImportFailed(errors)
    return _with_codes(rows, known, set(codes) | set(claimed))


def _with_codes(rows: list[Row], known: Mapping[str, Existing], taken: set[str]) -> list[Row]:
    """A row without a code keeps its class's code, or gets a free one (a new class)."""
    out = []
    for row in rows:
        record = row.record
        if not record.checkin_code:
            code = known[record.ref].checkin_code if record.ref in known else _free_code(taken)
            taken.add(code)
            record = dataclasses.replace(record, checkin_code=code)
        out.append(Row(row.number, record))
    return out


def _free_code(taken: set[str]) -> str:
    while True:
        code = f"YX{secrets.randbelow(9000) + 1000}"
        if code not in taken:
            return code
