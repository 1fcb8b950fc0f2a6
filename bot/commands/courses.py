"""The night school's commands: ``longtuan import classes FILE`` and ``longtuan classes qr CLASS``."""

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

SHOW_QR = "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="


def register(commands: Commands) -> None:
    p = commands.imports.add_parser("classes", help="night-school classes from a .csv or .xlsx file")
    p.add_argument("file", help="columns 编号 主题 课程 老师 地点 街道 开始时间 结束时间 名额 [签到码] [状态]")
    p.set_defaults(func=with_services(import_classes))
    group = commands.root.add_parser("classes", help="night-school classes")
    sub = group.add_subparsers(dest="action", required=True)
    qr = sub.add_parser("qr", help="the check-in QR scene of a class (and the permanent code, with WeChat credentials)")
    qr.add_argument("cls", metavar="CLASS", help="the class's 编号 or id")
    qr.set_defaults(func=with_services(class_qr))


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


async def class_qr(svc: Services, args: argparse.Namespace) -> int:
    """Print the class's scene id; with WeChat credentials, create its permanent QR code and print it."""
    async with svc.db.session() as s:
        cls = await catalogue.by_ref(s, args.cls)
        if cls is None and args.cls.isdigit():
            cls = await catalogue.get(s, int(args.cls))
    if cls is None:
        print(f"没有编号或 id 为 {args.cls} 的课程", file=sys.stderr)
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
