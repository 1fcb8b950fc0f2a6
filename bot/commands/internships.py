"""``longtuan import internships FILE``: 展翅计划 posts from a .csv or .xlsx file."""

from __future__ import annotations

import argparse
import sys

from bot.commands import Commands, with_services
from bot.context import Services
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


def register(commands: Commands) -> None:
    p = commands.imports.add_parser(
        "internships", help="展翅计划 posts (.csv or .xlsx, the columns of content/demo/internships.csv)"
    )
    p.add_argument("file", help="a .csv (UTF-8) or .xlsx file; re-importing the same file changes nothing")
    p.set_defaults(func=with_services(_import))
