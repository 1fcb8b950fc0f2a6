"""Cadres' files for 青年大学习: the organisation (branches), episodes, and the official completion list.

Headers are matched by any of the names the League's platform and cadres' spreadsheets use
(「团支部」 or 「所在支部」 ...). Every row is checked before anything is written.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.db.study.completions import OfficialRow
from bot.db.study.org import BranchRow
from bot.imports import MAX_ERRORS, ImportFailed, RowError, Table

BRANCH_COLUMNS = {
    "district": ("区", "区县", "district"),
    "street": ("街道", "street"),
    "org": ("团工委", "上级组织", "街道团工委", "organisation", "org"),
    "code": ("支部码", "支部编码", "code"),
    "name": ("支部名称", "团支部", "支部", "branch", "name"),
    "members": ("团员数", "团员人数", "members"),
}
EPISODE_COLUMNS = {
    "number": ("期数", "期", "number"),
    "title": ("标题", "主题", "title"),
    "link": ("链接", "学习链接", "link"),
    "opens": ("开始", "开始时间", "上线时间", "opens"),
    "closes": ("截止", "截止时间", "closes"),
}
COMPLETION_COLUMNS = {
    "name": ("姓名", "name"),
    "branch": ("团支部", "所在支部", "所在团支部", "支部", "组织", "branch"),
    "mobile": ("手机号", "手机", "手机号码", "mobile"),
    "member_no": ("团员编号", "编号", "member_id", "member_no"),
    "time": ("学习时间", "完成时间", "时间", "time"),
}
CODE = re.compile(r"[A-Za-z0-9-]{2,32}")


def _columns(table: Table, wanted: dict[str, tuple[str, ...]], required: tuple[str, ...]) -> dict[str, str]:
    """Field -> the file's column for it; a missing required column fails the import."""
    found = {field: next((c for c in table.columns if c in names), "") for field, names in wanted.items()}
    missing = [RowError(1, wanted[f][0], "缺少这一列") for f in required if not found[f]]
    if missing:
        raise ImportFailed(missing)
    return found


def _get(values: dict[str, str], column: str) -> str:
    return values.get(column, "").strip() if column else ""


def _check(errors: list[RowError]) -> None:
    if errors:
        raise ImportFailed(errors[:MAX_ERRORS])


def branch_rows(table: Table) -> list[BranchRow]:
    cols = _columns(table, BRANCH_COLUMNS, ("street", "code", "name", "members"))
    rows: list[BranchRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for number, values in table.rows:
        street = _get(values, cols["street"]).removesuffix("街道")
        code = _get(values, cols["code"]).upper()
        name = _get(values, cols["name"])
        raw_members = _get(values, cols["members"])
        district = _get(values, cols["district"]) or "龙岗区"
        org = _get(values, cols["org"]) or f"共青团{street}街道工作委员会"
        if not street:
            errors.append(RowError(number, cols["street"], "不能为空"))
        if not CODE.fullmatch(code):
            errors.append(RowError(number, cols["code"], f"「{code}」不是支部码（2 到 32 位字母、数字或 -）"))
        elif code in seen:
            errors.append(RowError(number, cols["code"], f"「{code}」和第 {seen[code]} 行重复"))
        else:
            seen[code] = number
        if not name:
            errors.append(RowError(number, cols["name"], "不能为空"))
        if not raw_members.isdigit():
            errors.append(RowError(number, cols["members"], f"「{raw_members}」不是人数"))
        if len(errors) >= MAX_ERRORS:
            break
        if not errors:
            rows.append(BranchRow(district, street, org, code, name, int(raw_members)))
    _check(errors)
    return rows


def parse_time(text: str, tz: ZoneInfo) -> datetime:
    """2026-12-07 10:00, 2026/12/07 10:00 or 2026-12-07T10:00, in the deployment's time zone."""
    moment = datetime.fromisoformat(text.strip().replace("/", "-"))
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def default_close(opens: datetime) -> datetime:
    """The Sunday 22:00 after ``opens``: the week's episode closes at the end of the week."""
    close = (opens + timedelta(days=6 - opens.weekday())).replace(hour=22, minute=0, second=0, microsecond=0)
    return close if close > opens else close + timedelta(days=7)


def episode_rows(table: Table, tz: ZoneInfo) -> list[tuple[int, str, str, datetime, datetime]]:
    cols = _columns(table, EPISODE_COLUMNS, ("number", "title", "link", "opens"))
    rows: list[tuple[int, str, str, datetime, datetime]] = []
    errors: list[RowError] = []
    for number, values in table.rows:
        raw = _get(values, cols["number"])
        title, link = _get(values, cols["title"]), _get(values, cols["link"])
        opens = closes = None
        if not raw.isdigit():
            errors.append(RowError(number, cols["number"], f"「{raw}」不是期数"))
        if not title:
            errors.append(RowError(number, cols["title"], "不能为空"))
        if not link.startswith(("http://", "https://")):
            errors.append(RowError(number, cols["link"], "要以 http:// 或 https:// 开头"))
        try:
            opens = parse_time(_get(values, cols["opens"]), tz)
            raw_close = _get(values, cols["closes"])
            closes = parse_time(raw_close, tz) if raw_close else default_close(opens)
        except ValueError:
            errors.append(RowError(number, cols["opens"], "时间要写成 2026-12-07 10:00"))
        if opens and closes and closes <= opens:
            errors.append(RowError(number, cols["closes"] or cols["opens"], "截止时间要晚于开始时间"))
        if not errors and opens and closes:
            rows.append((int(raw), title, link, opens, closes))
    _check(errors)
    return rows


def completion_rows(table: Table) -> list[OfficialRow]:
    cols = _columns(table, COMPLETION_COLUMNS, ("name",))
    if not (cols["branch"] or cols["mobile"] or cols["member_no"]):
        raise ImportFailed([RowError(1, "团支部", "需要「团支部」「手机号」或「团员编号」中的至少一列")])
    rows: list[OfficialRow] = []
    errors: list[RowError] = []
    for number, values in table.rows:
        row = OfficialRow(
            number,
            _get(values, cols["name"]),
            _get(values, cols["branch"]),
            re.sub(r"\D", "", _get(values, cols["mobile"])),
            _get(values, cols["member_no"]),
            _get(values, cols["time"]),
        )
        if not row.name and not row.mobile and not row.member_no:
            errors.append(RowError(number, cols["name"], "姓名、手机号、团员编号都是空的"))
        rows.append(row)
    _check(errors)
    return rows
