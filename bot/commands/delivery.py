"""``longtuan worker`` and ``longtuan campaign create|plan|approve|send|status|cancel|tag``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.commands import Commands, run_command
from bot.db import Database
from bot.errors import ConfigError
from bot.imports import ImportFailed, read_rows
from bot.settings import Settings

#: Rows of the progress bar, in the order they fill it.
DONE = ("sent", "dropped", "cancelled", "waiting")


def register(commands: Commands) -> None:
    worker = commands.root.add_parser("worker", help="发送待发消息（可以运行一个或多个）")
    worker.add_argument("--lanes", type=int, default=2, help="同时处理的批数（默认 2）")
    worker.add_argument("--metrics-port", type=int, help="在这个端口提供 /metrics")
    worker.add_argument("--metrics-host", default="127.0.0.1")
    worker.set_defaults(func=cmd_worker)

    campaign = commands.root.add_parser("campaign", help="给关注者群发")
    sub = campaign.add_subparsers(dest="step", required=True)
    create = sub.add_parser("create", help="新建群发（草稿）")
    create.add_argument("--name", required=True, help="群发的名称（status 里显示）")
    create.add_argument("--by", required=True, help="创建人")
    create.add_argument("--text", default="", help="消息内容（或用 --template）")
    create.add_argument("--template", default="", help="模板 id（配合 --field 名=值）")
    create.add_argument("--field", action="append", default=[], help="模板字段，名=值（可重复）")
    create.add_argument(
        "--audience",
        default="all",
        help="发送对象：all（全部关注者）| streets:平湖,布吉 | tag:名称 | openids（配合 --openids）| "
        "class:12（一门课的学员）| project:7（一个项目的志愿者）| subscribers 或 subscribers:设计（实习订阅者）| "
        "branch:支部码（团支部的团员）| SOURCE:k=v（其他来源）",
    )
    create.add_argument("--openids", help="openid 文件（.txt 每行一个，或有 openid 列的 .csv/.xlsx）")
    create.add_argument("--at", help="开始时间（本地时间 YYYY-MM-DD HH:MM，默认发送时）")
    create.set_defaults(func=with_database(_create))
    for step, title, work in (
        ("plan", "统计发送对象，选定发送方式和日期，列出联系不上的人", _plan),
        ("approve", "审核通过已规划的群发", _approve),
        ("send", "开始发送已审核的群发（或等到设定的时间）", _send),
        ("cancel", "停止还没发出的部分", _cancel),
    ):
        parser = sub.add_parser(step, help=title)
        parser.add_argument("id", type=int)
        parser.add_argument("--by", required=step != "plan", default="system", help="操作人")
        if step == "plan":
            parser.add_argument("--unreachable", help="把联系不上的人和原因写入这个 CSV 文件")
        parser.set_defaults(func=with_database(work))
    status = sub.add_parser("status", help="状态和进度")
    status.add_argument("id", type=int)
    status.add_argument("--watch", action="store_true", help="持续显示进度，直到结束")
    status.add_argument("--every", type=float, default=2.0)
    status.set_defaults(func=with_database(_status))
    tag = sub.add_parser("tag", help="按 openid 文件给关注者打标签（发送对象 tag:名称）")
    tag.add_argument("tag")
    tag.add_argument("file")
    tag.set_defaults(func=with_database(_tag))


class Handles:
    """What the campaign commands use: settings, the database and the clock (no content, no jieba)."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.clock = time.time


def with_database(work: Callable[[Handles, argparse.Namespace], Awaitable[int | None]]) -> Callable[..., None]:
    """Like ``bot.commands.with_services`` but opening only the database: a campaign step starts in a
    fraction of a second instead of waiting for the text analyser's dictionary."""

    def run(args: argparse.Namespace) -> None:
        async def main(ready: Settings) -> int | None:
            from bot.outbox.campaigns import bulk_database

            db = bulk_database(ready.database_url)
            try:
                return await work(Handles(ready, db), args)
            finally:
                await db.close()

        run_command(main)

    return run


def cmd_worker(args: argparse.Namespace) -> None:
    from bot.logs import configure
    from bot.outbox.worker import check, run_worker
    from bot.settings import load_settings

    try:
        settings = load_settings()
        check(settings)
    except ConfigError as exc:
        print(f"longtuan: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure(settings.log_level, settings.log_json)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await run_worker(
            settings, stop, lanes=args.lanes, metrics_port=args.metrics_port, metrics_host=args.metrics_host
        )

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


def _campaigns(svc: Handles) -> Any:
    from bot.outbox.campaigns import Campaigns

    return Campaigns(svc.settings, svc.db, svc.clock)


def _openids(path: str) -> list[str]:
    file = Path(path)
    if file.suffix.lower() in (".csv", ".xlsx"):
        table = read_rows(file)
        table.require("openid")
        return [row["openid"] for _, row in table.rows if row.get("openid")]
    return [line.strip() for line in file.read_text(encoding="utf-8-sig").splitlines() if line.strip()]


async def _failing(work: Any) -> int | None:
    from bot.outbox.campaigns import CampaignError

    try:
        return int(await work() or 0)
    except (CampaignError, ConfigError, ImportFailed) as exc:
        print(f"longtuan: {exc}", file=sys.stderr)
        return 1


async def _create(svc: Handles, args: argparse.Namespace) -> int | None:
    from bot.outbox.audiences import parse

    async def work() -> int:
        at = None
        if args.at:
            local = datetime.strptime(args.at, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(svc.settings.timezone))
            at = local.timestamp()
        fields = dict(f.split("=", 1) for f in args.field if "=" in f)
        openids = _openids(args.openids) if args.openids else None
        audience = parse(args.audience)
        cid = await _campaigns(svc).create(
            name=args.name,
            by=args.by,
            audience=audience,
            text=args.text,
            template_id=args.template,
            fields=fields,
            at=at,
            openids=openids,
        )
        print(f"群发活动 {cid} 已建好（草稿）。下一步：longtuan campaign plan {cid}")
        return 0

    return await _failing(work)


async def _plan(svc: Handles, args: argparse.Namespace) -> int | None:
    async def work() -> int:
        summary = await _campaigns(svc).plan(args.id, by=args.by)
        print(render_plan(args.id, summary))
        if args.unreachable:
            from bot.db.delivery.campaigns import unreachable

            async with svc.db.session() as s:
                people = await unreachable(s, args.id)
            await asyncio.to_thread(write_csv, args.unreachable, ["openid", "reason"], people)
            print(f"  {len(people):,} 人的名单已写入 {args.unreachable}")
        return 0

    return await _failing(work)


def write_csv(path: str, header: list[str], rows: list[tuple[str, str]]) -> None:
    # utf-8-sig: Excel, where cadres open it, reads Chinese reasons right only with the BOM.
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


#: The ways and the reasons of a plan as a cadre reads them (the codes stay beside them for logs).
WAY_NAMES = {
    "custom": "客服消息 customer-service message",
    "template": "模板消息 template message",
    "subscribe": "订阅通知 subscription notice",
    "mass": "群发 mass send",
}
REASON_NAMES = {
    "unsubscribed": "已取消关注 unfollowed",
    "window_closed": "48 小时内没互动 window closed",
    "no_consent": "没订阅过 no consent",
}


def state_name(state: str) -> str:
    from bot.outbox.campaigns import state_name as named

    return named(state)


def render_plan(cid: int, summary: dict[str, Any]) -> str:
    lines = [f"群发活动 {cid}：共 {summary['recipients']:,} 人"]
    for way, n in sorted(summary["ways"].items()):
        lines.append(f"  {way:<10} {n:>9,}  {WAY_NAMES.get(way, '')}".rstrip())
    lines.append("  按天：")
    for day, ways in sorted(summary["days"].items()):
        lines.append(f"    {day}  " + ", ".join(f"{w} {n:,}" for w, n in sorted(ways.items())))
    if summary.get("custom_seconds"):
        lines.append(f"  按设定的速率，客服消息约需 {summary['custom_seconds']:,.0f} 秒发完")
    if summary["unreachable"]:
        lines.append("  现在发不到：")
        for reason, n in sorted(summary["unreachable"].items()):
            lines.append(f"    {reason:<16} {n:>9,}  {REASON_NAMES.get(reason, '')}".rstrip())
    return "\n".join(lines)


async def _approve(svc: Handles, args: argparse.Namespace) -> int | None:
    async def work() -> int:
        state = await _campaigns(svc).approve(args.id, args.by)
        done = "" if state == "approved" else "，还需要另一位干部批准"
        print(f"群发活动 {args.id}：{state_name(state)}{done}")
        return 0

    return await _failing(work)


async def _send(svc: Handles, args: argparse.Namespace) -> int | None:
    async def work() -> int:
        state = await _campaigns(svc).send(args.id, args.by)
        later = "，到预定时间自动开始" if state == "approved" else ""
        print(f"群发活动 {args.id}：{state_name(state)}{later}")
        return 0

    return await _failing(work)


async def _cancel(svc: Handles, args: argparse.Namespace) -> int | None:
    async def work() -> int:
        stopped = await _campaigns(svc).cancel(args.id, args.by)
        print(f"群发活动 {args.id}：已取消，{stopped:,} 条不再发送")
        return 0

    return await _failing(work)


#: Said under a campaign that is sending where nothing can send it (the demo): no AppSecret here.
NO_SENDER = (
    "提示：这里没有配置 LONGTUAN_WECHAT_APP_SECRET，消息会一直留在待发送（pending）；"
    "配置公众号的 AppSecret 后，由 longtuan worker（或 serve）发出。"
)


def bar(progress: dict[str, int], width: int = 30) -> str:
    total = sum(progress.values())
    done = sum(progress.get(s, 0) for s in DONE)
    filled = round(width * done / total) if total else width
    counts = ", ".join(f"{k} {v:,}" for k, v in sorted(progress.items()))
    return f"[{'#' * filled}{'-' * (width - filled)}] {done:,}/{total:,}  {counts}"


async def _status(svc: Handles, args: argparse.Namespace) -> int | None:
    async def work() -> int:
        campaigns = _campaigns(svc)
        bar_ = None
        while True:
            await campaigns.finish_done()
            campaign, progress = await campaigns.status(args.id)
            total = sum(progress.values())
            done = sum(progress.get(s, 0) for s in DONE)
            if args.watch and sys.stderr.isatty():
                from tqdm import tqdm

                bar_ = bar_ or tqdm(total=total, desc=f"群发活动 {args.id}", unit="人")
                bar_.n = done
                bar_.set_postfix_str(campaign.state)
                bar_.refresh()
            else:
                print(
                    f"群发活动 {args.id}「{campaign.name}」：{state_name(campaign.state)}  {bar(progress)}", flush=True
                )
            if not args.watch or campaign.state in ("done", "cancelled", "draft", "planned"):
                break
            await asyncio.sleep(args.every)
        if bar_ is not None:
            bar_.close()
            print(json.dumps({"state": campaign.state, **progress}, ensure_ascii=False))
        if campaign.state == "sending" and not svc.settings.wechat_app_secret.get_secret_value():
            print(NO_SENDER)
        return 0

    return await _failing(work)


async def _tag(svc: Handles, args: argparse.Namespace) -> int | None:
    from bot.db.delivery.campaigns import tag_users

    async def work() -> int:
        openids = _openids(args.file)
        async with svc.db.session() as s:
            tagged, unknown = await tag_users(s, args.tag, openids)
        print(f"标签 {args.tag}：已给 {tagged:,} 位粉丝打上，{unknown:,} 个 openid 不认识")
        return 0

    return await _failing(work)
