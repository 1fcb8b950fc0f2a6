"""Volunteering on the command line: import projects, export and correct hours, a shift's QR code.

longtuan import projects FILE.csv|.xlsx
longtuan export hours --from 2026-07-01 --to 2026-12-31 [--team CODE] [--out FILE] [--full-id]
longtuan hours correct --user OPENID --hours -1.5 --reason "…" --author "…" [--entry ID] [--date D]
longtuan hours show --user OPENID
longtuan shifts qr SHIFT          (a shift's id or its six-digit code)
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from bot.commands import Commands, with_services
from bot.context import Services
from bot.db.volunteer import catalog, checkins, ledger
from bot.db.volunteer.export import write_csv
from bot.db.volunteer.rules import format_hours
from bot.imports import ImportFailed, read_rows
from bot.sealing import SealError

#: Where a ticket becomes a QR code image (WeChat's documented address).
SHOW_QR = "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value}") from None


def _hours(value: str) -> Decimal:
    try:
        hours = Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number of hours: {value}") from None
    if hours == 0 or abs(hours) > 1000 or hours != hours.quantize(Decimal("0.01")):
        raise argparse.ArgumentTypeError("hours must be non-zero, at most 1000, with at most two decimals")
    return hours


async def import_projects(svc: Services, args: argparse.Namespace) -> int:
    from bot.commands.volunteer_import import parse

    try:
        teams, projects, shifts = parse(read_rows(args.file), svc.content.streets, svc.tz)
    except ImportFailed as exc:
        print(exc, file=sys.stderr)
        return 1
    async with svc.db.session() as s:
        counts = await catalog.upsert(s, teams, projects, shifts)
    print(f"导入完成：队伍 {counts['teams']} 个，项目 {counts['projects']} 个，班次 {counts['shifts']} 个")
    return 0


async def export_hours(svc: Services, args: argparse.Namespace) -> int:
    if args.until < args.since:
        print("longtuan: --to 早于 --from，请检查日期", file=sys.stderr)
        return 2
    sealer = svc.sealer if args.full_id else None  # without LONGTUAN_DATA_KEY: refused before any line
    # A CLI command alone on its loop: blocking file writes hold up nobody (hence ASYNC230).
    out = open(args.out, "w", encoding="utf-8-sig", newline="") if args.out else sys.stdout  # noqa: SIM115, ASYNC230
    try:
        written, unregistered = await write_csv(
            svc.db, out, args.since, args.until, args.team, sealer=sealer, tz=svc.tz
        )
    except SealError:
        if args.out:
            out.close()
            os.unlink(args.out)
        print(
            "longtuan: 身份证号解不开：LONGTUAN_DATA_KEY 里没有登记时用的密钥。导出已停止"
            + ("，没写完的文件已删除" if args.out else "，上面的内容不完整"),
            file=sys.stderr,
        )
        return 1
    finally:
        if args.out and not out.closed:
            out.close()
    print(f"导出 {written} 条时长记录", file=sys.stderr)
    if unregistered:
        print(
            f"其中 {unregistered} 条的志愿者还没做「志愿者登记」（没有姓名和身份证号，备注里写着），报送前请先核实",
            file=sys.stderr,
        )
    return 0


async def _user(svc: Services, args: argparse.Namespace) -> int | None:
    async with svc.db.session() as s:
        user_id = await ledger.user_id_of(s, args.channel, args.user)
    if user_id is None:
        print(f"longtuan: 没有这个用户：{args.channel}:{args.user}", file=sys.stderr)
    return user_id


async def correct_hours(svc: Services, args: argparse.Namespace) -> int:
    if not args.reason.strip() or not args.author.strip():
        print("longtuan: 更正需要写明原因（--reason）和决定人（--author）", file=sys.stderr)
        return 2
    user_id = await _user(svc, args)
    if user_id is None:
        return 1
    now = datetime.fromtimestamp(svc.clock(), UTC)
    try:
        async with svc.db.session() as s:
            entry = await ledger.correct(
                s,
                user_id,
                args.hours,
                reason=args.reason.strip(),
                author=args.author.strip(),
                now=now,
                served_on=args.date or svc.local_now().date(),
                corrects_id=args.entry,
            )
            total = await ledger.total_hours(s, user_id)
    except ValueError as exc:
        print(f"longtuan: {exc}", file=sys.stderr)
        return 1
    print(f"已记录更正 #{entry}：{format_hours(args.hours)} 小时；累计 {format_hours(total)} 小时")
    return 0


async def show_hours(svc: Services, args: argparse.Namespace) -> int:
    user_id = await _user(svc, args)
    if user_id is None:
        return 1
    async with svc.db.session() as s:
        rows = await ledger.entries(s, user_id)
        total = await ledger.total_hours(s, user_id)
    for r in rows:
        note = f"  {r.reason}（{r.author}）" if r.kind == "correction" else ""
        fixes = f" 更正 #{r.corrects_id}" if r.corrects_id else ""
        print(f"#{r.id}\t{r.served_on}\t{r.kind}\t{format_hours(r.hours)}{fixes}{note}")
    print(f"累计 {format_hours(total)} 小时（{len(rows)} 条记录）")
    return 0


async def _shift(svc: Services, value: str) -> checkins.ShiftInfo | None:
    shift = None
    async with svc.db.session() as s:
        # Six digits are a poster's code first; any other number (or an unknown code) an id.
        if len(value) == 6 and value.isdigit():
            shift = await checkins.shift_by_code(s, value)
        if shift is None and value.isdigit() and len(value) < 10:
            shift = await checkins.shift_by_id(s, int(value))
    if shift is None:
        print(f"longtuan: 没有编号或 id 为 {value} 的班次", file=sys.stderr)
    return shift


async def shift_roster(svc: Services, args: argparse.Namespace) -> int:
    shift = await _shift(svc, args.shift)
    if shift is None:
        return 1
    async with svc.db.session() as s:
        lines = await checkins.roster(s, shift.id)
    start = shift.starts_at.astimezone(svc.tz).strftime("%Y-%m-%d %H:%M")
    print(f"班次 {shift.id}：{shift.title} {start}，签到 {len(lines)} 人")
    for line in lines:
        came = line.checked_in_at.astimezone(svc.tz).strftime("%H:%M")
        left = line.checked_out_at.astimezone(svc.tz).strftime("%H:%M") if line.checked_out_at else "未签退"
        metres = f"（{line.distance_m}米）" if line.distance_m is not None else ""
        where = f"位置已核验{metres}" if line.verified else "未核验位置"
        notes = [n for n, on in (("现场报名", line.walk_in), ("自动签退", line.auto_closed)) if on]
        print("\t".join([line.name or "（未登记）", line.external_id, came, left, where, *notes]))
    return 0


async def shift_qr(svc: Services, args: argparse.Namespace) -> int:
    from handlers.volunteer.checkin import scene_of

    shift = await _shift(svc, args.shift)
    if shift is None:
        return 1
    scene = scene_of(shift.id)
    start = shift.starts_at.astimezone(svc.tz).strftime("%Y-%m-%d %H:%M")
    print(f"班次 {shift.id}：{shift.title} {start}")
    print(f"签到码：{shift.code}（现场也可回复「签到 {shift.code}」）")
    print(f"二维码场景：{scene}")
    if svc.wechat is None or not svc.settings.wechat_app_secret.get_secret_value():
        print("（未配置 LONGTUAN_WECHAT_APP_SECRET：用公众号后台或接口为这个场景生成永久二维码）")
        return 0
    answer = await svc.wechat.create_qr_scene(scene)
    print(f"二维码：{SHOW_QR}{answer.get('ticket', '')}")
    return 0


def register(commands: Commands) -> None:
    imp = commands.imports.add_parser("projects", help="志愿项目和班次（每个班次一行）")
    imp.add_argument("file")
    imp.set_defaults(func=with_services(import_projects))

    exp = commands.exports.add_parser("hours", help="志愿时长记录导出为 CSV（全国志愿服务信息系统的格式）")
    exp.add_argument("--from", dest="since", type=_day, required=True)
    exp.add_argument("--to", dest="until", type=_day, required=True)
    exp.add_argument("--team", help="队伍代码")
    exp.add_argument("--out", help="写入的文件（默认标准输出）")
    exp.add_argument("--full-id", action="store_true", help="显示完整身份证号（信息系统需要）")
    exp.set_defaults(func=with_services(export_hours))

    hours = commands.root.add_parser("hours", help="志愿时长记录")
    sub = hours.add_subparsers(dest="action", required=True)
    fix = sub.add_parser("correct", help="追加一条更正（原记录不会被修改）")
    fix.add_argument("--user", required=True, help="志愿者的 openid")
    fix.add_argument("--channel", default="wechat")
    fix.add_argument("--hours", type=_hours, required=True, help="增加的小时数（负数为扣减）")
    fix.add_argument("--reason", required=True)
    fix.add_argument("--author", required=True, help="决定更正的人")
    fix.add_argument("--entry", type=int, help="所更正的记录编号")
    fix.add_argument("--date", type=_day, help="计入的服务日期（默认今天）")
    fix.set_defaults(func=with_services(correct_hours))
    show = sub.add_parser("show", help="某位志愿者的记录和累计时长")
    show.add_argument("--user", required=True)
    show.add_argument("--channel", default="wechat")
    show.set_defaults(func=with_services(show_hours))

    shifts = commands.root.add_parser("shifts", help="志愿班次")
    shift_sub = shifts.add_subparsers(dest="action", required=True)
    qr = shift_sub.add_parser("qr", help="班次的签到场景、签到码（配置了微信凭据时生成二维码）")
    qr.add_argument("shift", help="班次 id 或六位签到码")
    qr.set_defaults(func=with_services(shift_qr))
    roster = shift_sub.add_parser("roster", help="签到名单，以及位置是否核实")
    roster.add_argument("shift", help="班次 id 或六位签到码")
    roster.set_defaults(func=with_services(shift_roster))
