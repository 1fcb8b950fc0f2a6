"""The hours export for the national volunteer records system: CSV, streamed, ID numbers masked unless asked.

Columns, in the records system's order: 姓名, 证件号码, 项目名称, 组织单位, 服务日期, 开始时间,
结束时间, 服务时长(小时); then 类型 and 备注, which say whether a line is a service or a
correction and why. A correction has no start or end; its hours (negative to take away) count
for the day it names.
"""

from __future__ import annotations

import csv
import sys
from datetime import date
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.db import Database
from bot.db.volunteer import ledger
from bot.db.volunteer.rules import format_hours
from bot.sealing import Sealer

#: 备注 of a line whose volunteer never registered: nothing to report them under.
UNREGISTERED = "未做志愿者登记"

HEADER = (
    "姓名",
    "证件号码",
    "项目名称",
    "组织单位",
    "服务日期",
    "开始时间",
    "结束时间",
    "服务时长(小时)",
    "类型",
    "备注",
)
KINDS = {"service": "服务", "correction": "更正"}


async def write_csv(
    db: Database,
    out: TextIO,
    since: date,
    until: date,
    team: str | None,
    *,
    sealer: Sealer | None = None,
    tz: ZoneInfo | None = None,
) -> tuple[int, int]:
    """Write the lines served in [since, until] to ``out``; returns how many, and how many of them
    belong to someone who never registered (「志愿者登记」: no name or ID number to report; their
    备注 says so). Memory stays constant: rows come from a server-side cursor and go out one by one.

    ID numbers are masked, in full only when ``sealer`` is given to open them (``--full-id``); a
    number it cannot open (another deployment's key) raises ``bot.sealing.SealError``."""
    tz = tz or ZoneInfo("Asia/Shanghai")
    bar = None
    written = unregistered = 0
    try:
        async with db.session() as s:
            if sys.stderr.isatty():
                from tqdm import tqdm

                total = await ledger.export_count(s, since, until, team)
                bar = tqdm(total=total, desc="导出时长", unit="行", leave=False)
            writer = csv.writer(out)
            writer.writerow(HEADER)
            async for row in ledger.export_rows(s, since, until, team):
                note = row.reason
                if not row.name:
                    unregistered += 1
                    note = "；".join(part for part in (UNREGISTERED, row.reason) if part)
                writer.writerow(
                    (
                        row.name,
                        sealer.open(row.id_sealed) if sealer and row.id_sealed else row.id_masked,
                        row.project,
                        row.organiser,
                        row.served_on.isoformat(),
                        row.started_at.astimezone(tz).strftime("%H:%M") if row.started_at else "",
                        row.ended_at.astimezone(tz).strftime("%H:%M") if row.ended_at else "",
                        format_hours(row.hours),
                        KINDS.get(row.kind, row.kind),
                        note,
                    )
                )
                written += 1
                if bar is not None:
                    bar.update()
    finally:  # stopped part-way too (a number no key opens): the bar leaves the terminal
        if bar is not None:
            bar.close()
    return written, unregistered
