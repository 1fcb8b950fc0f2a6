"""``longtuan import projects FILE``: volunteer projects and their shifts from a cadre's sheet.

One row per shift; the project's columns repeat on each of its rows and must agree. Columns:
项目编号, 项目名称, 队伍编号, 队伍名称, 街道, 地点, 纬度, 经度, 签到半径 (metres, default 500),
携带物品, 项目简介, 班次开始, 班次结束 (``2026-12-05 09:00``, local time), 名额.
Every value is checked before anything is written; then all rows go in one transaction, keyed
(project by 项目编号, shift by project and start), so the same file again changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.db.volunteer.catalog import ProjectRow, ShiftRow, TeamRow
from bot.imports import ImportFailed, RowError, Table

COLUMNS = (
    "项目编号",
    "项目名称",
    "队伍编号",
    "队伍名称",
    "街道",
    "地点",
    "纬度",
    "经度",
    "签到半径",
    "携带物品",
    "项目简介",
    "班次开始",
    "班次结束",
    "名额",
)
REQUIRED = (
    "项目编号",
    "项目名称",
    "队伍编号",
    "队伍名称",
    "街道",
    "地点",
    "纬度",
    "经度",
    "班次开始",
    "班次结束",
    "名额",
)
#: Longgang and its surroundings (GCJ-02): a swapped latitude and longitude falls outside.
LAT_RANGE, LNG_RANGE = (22.4, 23.0), (113.7, 114.7)


def _time(value: str, tz: ZoneInfo) -> datetime:
    for pattern in ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(value, pattern).replace(tzinfo=tz)
        except ValueError:
            continue
    raise ValueError(value)


def parse(table: Table, streets: list[str], tz: ZoneInfo) -> tuple[list[TeamRow], list[ProjectRow], list[ShiftRow]]:
    table.require(*REQUIRED)
    errors: list[RowError] = []
    teams: dict[str, TeamRow] = {}
    projects: dict[str, ProjectRow] = {}
    shifts: dict[tuple[str, datetime], ShiftRow] = {}

    for number, row in table.rows:

        def bad(column: str, message: str, number: int = number) -> None:
            errors.append(RowError(number, column, message))

        if "\x00extra" in row:
            bad("", "这一行的格子比表头多")
        for column in REQUIRED:
            if not row.get(column):
                bad(column, "不能为空")
        street = row.get("街道", "").removesuffix("街道")
        if street and street not in streets:
            bad("街道", f"「{street}」不是龙岗区的街道")
        lat = lng = 0.0
        try:
            lat, lng = float(row.get("纬度", "")), float(row.get("经度", ""))
            if not (LAT_RANGE[0] <= lat <= LAT_RANGE[1] and LNG_RANGE[0] <= lng <= LNG_RANGE[1]):
                bad("纬度", "坐标不在龙岗附近（纬度约22.6、经度约114.2，是否填反了？）")
        except ValueError:
            if row.get("纬度") and row.get("经度"):
                bad("纬度", "纬度、经度要填数字，比如 22.7208 和 114.2469")
        radius = 500
        if row.get("签到半径"):
            if not row["签到半径"].isdigit() or not 50 <= int(row["签到半径"]) <= 5000:
                bad("签到半径", "要填 50 到 5000 之间的整数（米）")
            else:
                radius = int(row["签到半径"])
        seats = 0
        if row.get("名额"):
            if not row["名额"].isdigit() or int(row["名额"]) < 1:
                bad("名额", "要填正整数")
            else:
                seats = int(row["名额"])
        starts = ends = None
        for column in ("班次开始", "班次结束"):
            if row.get(column):
                try:
                    when = _time(row[column], tz)
                except ValueError:
                    bad(column, "时间格式应为 2026-12-05 09:00")
                    continue
                starts, ends = (when, ends) if column == "班次开始" else (starts, when)
        if starts and ends and ends <= starts:
            bad("班次结束", "要晚于班次开始")
        if errors and errors[-1].row == number:
            continue
        team = TeamRow(row["队伍编号"], row["队伍名称"], street)
        if teams.setdefault(team.code, team) != team:
            bad("队伍名称", f"队伍 {team.code} 在前面的行里名称或街道不同")
        project = ProjectRow(
            row["项目编号"],
            team.code,
            row["项目名称"],
            street,
            row["地点"],
            lat,
            lng,
            radius,
            row.get("携带物品", ""),
            row.get("项目简介", ""),
        )
        if projects.setdefault(project.code, project) != project:
            bad("项目编号", f"项目 {project.code} 在前面的行里信息不同（同一项目的每行要一致）")
        assert starts is not None and ends is not None
        if (project.code, starts) in shifts:
            bad("班次开始", "同一项目的这个班次重复了")
        shifts[(project.code, starts)] = ShiftRow(project.code, starts, ends, seats)
    if errors:
        raise ImportFailed(errors)
    return list(teams.values()), list(projects.values()), list(shifts.values())
