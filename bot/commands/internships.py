"""``longtuan import internships FILE`` (展翅计划 posts from .csv or .xlsx) and
``longtuan export internship-applications`` (the applications, as CSV, for the employers)."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import sys
from datetime import datetime
from pathlib import Path

from bot.commands import Commands, with_services
from bot.context import Services
from bot.db.internships import people
from bot.imports import ImportFailed
from bot.internships.importer import import_file


async def _import(svc: Services, args: argparse.Namespace) -> int:
    try:
        done = await import_file(svc, args.file)
    except ImportFailed as exc:
        print(exc, file=sys.stderr)
        return 1
    unchanged = done.rows - len(done.written.inserted) - len(done.written.updated)
    print(
        f"实习岗位导入完成：共 {done.rows} 行，新增 {len(done.written.inserted)}，更新 {len(done.written.updated)}，"
        f"未变 {unchanged}；已通知订阅者 {done.notified} 人"
    )
    return 0


async def _export(svc: Services, args: argparse.Namespace) -> int:
    async with svc.db.session() as s:
        rows = await people.export_applications(s)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(people.EXPORT_COLUMNS)
    for row in rows:
        writer.writerow(
            [v.astimezone(svc.tz).strftime("%Y-%m-%d %H:%M") if isinstance(v, datetime) else v for v in row]
        )
    if args.out:
        # With a BOM, so Excel reads the Chinese right.
        await asyncio.to_thread(Path(args.out).write_text, buf.getvalue(), encoding="utf-8-sig")
    else:
        sys.stdout.write(buf.getvalue())
    print(f"导出投递记录 {len(rows)} 条", file=sys.stderr)
    return 0


def register(commands: Commands) -> None:
    p = commands.imports.add_parser(
        "internships", help="展翅计划岗位（.csv 或 .xlsx，列同 content/demo/internships.csv）"
    )
    p.add_argument("file", help=".csv（UTF-8）或 .xlsx 文件；同一文件再导入不会改动任何内容")
    p.set_defaults(func=with_services(_import))
    e = commands.exports.add_parser("internship-applications", help="展翅计划投递记录导出为 CSV（带 BOM 的 UTF-8）")
    e.add_argument("--out", help="写入这个文件，而不是标准输出")
    e.set_defaults(func=with_services(_export))
