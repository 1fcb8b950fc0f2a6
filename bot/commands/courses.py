"""The night school's commands: ``longtuan import classes FILE``, ``longtuan classes list | roster | qr``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote

from bot.channels.wechat.api import WeChatAPIError
from bot.commands import Commands, with_services
from bot.commands.classfile import read_classes
from bot.context import Services
from bot.db.courses import catalogue, sessions, signups
from bot.db.courses.catalogue import ClassView
from bot.imports import ImportFailed, progress, read_rows
from bot.model import Reply
from bot.outbound import Notice
from handlers.courses import format as fmt
from handlers.courses.intents import SCENE_PREFIX
from handlers.courses.phones import masked

SHOW_QR = "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="


def register(commands: Commands) -> None:
    p = commands.imports.add_parser("classes", help="从 .csv 或 .xlsx 文件导入夜校课程")
    p.add_argument("file", help="列：编号 主题 课程 老师 地点 街道 开始时间 结束时间 名额 [签到码] [状态]")
    p.set_defaults(func=with_services(import_classes))
    group = commands.root.add_parser("classes", help="夜校课程")
    sub = group.add_subparsers(dest="action", required=True)
    qr = sub.add_parser("qr", help="课程的签到二维码场景（配置了微信凭据时生成永久二维码）")
    qr.add_argument("cls", metavar="CLASS", help="课程的编号或 id")
    qr.set_defaults(func=with_services(class_qr))
    listing = sub.add_parser("list", help="还没开始的课程：编号、时间、地点、已报/名额、候补人数")
    listing.add_argument("--all", action="store_true", help="也列出已结束和已取消的")
    listing.set_defaults(func=with_services(class_list))
    roster = sub.add_parser("roster", help="报名、候补、签到名单（手机号打码）")
    roster.add_argument("cls", metavar="CLASS", help="课程的编号或 id")
    roster.add_argument("--full-mobile", action="store_true", help="显示完整手机号，方便打电话")
    roster.set_defaults(func=with_services(class_roster))


async def import_classes(svc: Services, args: argparse.Namespace) -> int:
    """Every row checked first, then all written in one transaction; the same file again changes nothing."""
    try:
        table = read_rows(args.file)
        async with svc.db.session() as s:
            known = await catalogue.existing(s)
        rows = read_classes(table, svc.content.streets, svc.tz, known)
        now = datetime.fromtimestamp(svc.now(), UTC)
        async with svc.unit() as unit:
            s = unit.session
            written = await catalogue.upsert_classes(s, [r.record for r in progress(rows, len(rows), "导入课程")])
            promoted: list[tuple[ClassView, signups.Promoted]] = []
            cancelled: list[ClassView] = []
            for w in written:
                await signups.lock_class(s, w.id)
                cls = await catalogue.get(s, w.id)
                assert cls is not None
                if cls.seated > cls.capacity:  # a signup since the check: nothing is imported
                    raise ImportFailed([], f"编号 {w.ref} 的课刚有人报名，已报 {cls.seated} 人，多于新名额；请重新导入")
                if not cls.is_open:
                    cancelled.append(cls)
                    continue
                promoted.extend((cls, p) for p in await signups.fill(s, w.id, now, "import"))
            holders = {c.id: await catalogue.seat_holders(s, c.id) for c in cancelled}
            for notice in _notices(svc, promoted, cancelled, holders):  # in the import's transaction
                unit.notify(notice)
        async with svc.db.session() as s:
            await sessions.durable(s)
    except ImportFailed as exc:
        print(exc, file=sys.stderr)
        return 1
    added = sum(1 for w in written if w.inserted)
    print(
        f"导入完成：共 {len(rows)} 门课，新增 {added}，更新 {len(written) - added}，未变 {len(rows) - len(written)}。"
    )
    return 0


def _notices(
    svc: Services,
    promoted: list[tuple[ClassView, signups.Promoted]],
    cancelled: list[ClassView],
    holders: dict[int, list[tuple[str, str]]],
) -> Iterator[Notice]:
    """Seats freed by a larger class go to those waiting; a cancelled class is told to its people."""
    for cls, p in promoted:
        when = fmt.when(cls.starts_at, cls.ends_at, svc.tz)
        reply = Reply("courses.promoted", {"title": cls.title, "when": when, "venue": cls.venue})
        fields = {"class": cls.title, "time": when, "venue": cls.venue}
        yield Notice(p.channel, p.external_id, "waitlist_promoted", reply, f"waitlist_promoted:{p.signup_id}", fields)
    for cls in cancelled:
        when = fmt.when(cls.starts_at, cls.ends_at, svc.tz)
        for channel, openid in holders.get(cls.id, []):
            reply = Reply("courses.class_cancelled", {"title": cls.title, "when": when})
            fields = {"class": cls.title, "time": when, "venue": cls.venue}
            yield Notice(channel, openid, "class_cancelled", reply, f"class_cancelled:{cls.id}:{openid}", fields)


async def _class(svc: Services, value: str) -> ClassView | None:
    """The class of a 编号, else of an id; says so on stderr when there is none."""
    async with svc.db.session() as s:
        cls = await catalogue.by_ref(s, value)
        if cls is None and value.isdigit() and len(value) < 10:
            cls = await catalogue.get(s, int(value))
    if cls is None:
        print(f"没有编号或 id 为 {value} 的课程", file=sys.stderr)
    return cls


async def class_list(svc: Services, args: argparse.Namespace) -> int:
    """The classes still to come (``--all``: every class), soonest first, with their seats."""
    now = datetime.fromtimestamp(svc.now(), UTC)
    async with svc.db.session() as s:
        classes = await catalogue.listing(s, None if args.all else now)
    if not classes:
        print("还没有课程：用 longtuan import classes FILE 导入一学期的课。" if args.all else "没有还没开始的课程。")
        return 0
    print("\t".join(["编号", "id", "时间", "课程", "地点", "已报/名额", "候补", "状态"]))
    for c in classes:
        status = "已取消" if not c.is_open else "已开始" if c.starts_at <= now else "报名中"
        row = [c.ref, str(c.id), fmt.when(c.starts_at, c.ends_at, svc.tz), f"【{c.theme}】{c.title}", c.venue]
        print("\t".join([*row, f"{c.seated}/{c.capacity}", str(c.waiting), status]))
    print(f"共 {len(classes)} 门")
    return 0


_STATUS = {"confirmed": "已报名", "waitlisted": "候补", "attended": "已签到", "no_show": "未到"}


async def class_roster(svc: Services, args: argparse.Namespace) -> int:
    """Who is seated (and checked in), who waits in which place, who did not come."""
    cls = await _class(svc, args.cls)
    if cls is None:
        return 1
    async with svc.db.session() as s:
        lines = await catalogue.roster(s, cls.id)
    attended = sum(1 for line in lines if line.status == "attended")
    print(f"{cls.ref} {cls.title}，{fmt.when(cls.starts_at, cls.ends_at, svc.tz)}，{cls.venue}")
    print(f"名额 {cls.capacity}，已报 {cls.seated}（已签到 {attended}），候补 {cls.waiting}")
    for line in lines:
        status = f"候补第{line.position}位" if line.status == "waitlisted" else _STATUS.get(line.status, line.status)
        came = line.checked_in_at.astimezone(svc.tz).strftime("%H:%M 签到") if line.checked_in_at else ""
        mobile = line.mobile if args.full_mobile else masked(line.mobile)
        notes = ["现场报名"] if line.walk_in else []
        signed = line.signed_up_at.astimezone(svc.tz).strftime("%m-%d %H:%M 报名")
        print("\t".join([line.name or "（未留姓名）", mobile or "-", status, signed, came, *notes]).rstrip("\t"))
    return 0


async def class_qr(svc: Services, args: argparse.Namespace) -> int:
    """Print the class's scene id; with WeChat credentials, create its permanent QR code and print it."""
    cls = await _class(svc, args.cls)
    if cls is None:
        return 1
    scene = f"{SCENE_PREFIX}{cls.id}"
    print(
        f"课程：{cls.title}（编号 {cls.ref}，id {cls.id}），{fmt.when(cls.starts_at, cls.ends_at, svc.tz)}，{cls.venue}"
    )
    print(f"签到码：{cls.checkin_code}")
    print(f"二维码场景：{scene}")
    if svc.wechat is None or not svc.settings.wechat_app_secret.get_secret_value():
        print("没有配置 LONGTUAN_WECHAT_APP_SECRET：只打印场景；在公众号后台或配置后再运行即可生成永久二维码。")
        return 0
    try:
        answer = await svc.wechat.create_qr_scene(scene)
    except WeChatAPIError as exc:
        print(f"生成二维码失败：{exc}", file=sys.stderr)
        return 1
    ticket = str(answer.get("ticket", ""))
    print(f"二维码内容：{answer.get('url', '')}")
    print(f"二维码图片：{SHOW_QR}{quote(ticket, safe='')}")
    return 0
