"""青年大学习 for cadres: ``longtuan study episode …``, ``study remind``, the imports and ``report study``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.commands import Commands, with_services
from bot.commands import study_imports as files
from bot.commands.study_report import as_csv, as_text, lines
from bot.context import Services
from bot.db.study import completions, episodes, org, reminders
from bot.db.study import report as figures
from bot.errors import ConfigError
from bot.imports import ImportFailed, read_rows


def register(commands: Commands) -> None:
    study = commands.root.add_parser("study", help="青年大学习：每期内容和提醒")
    sub = study.add_subparsers(dest="study_command", required=True)

    episode = sub.add_parser("episode", help="每期内容").add_subparsers(dest="episode_command", required=True)
    add = episode.add_parser("add", help="添加一期，或修改这一期")
    add.add_argument("--number", type=int, required=True)
    add.add_argument("--title", required=True)
    add.add_argument("--link", required=True)
    add.add_argument("--opens", required=True, help="2026-12-07 10:00（本地时间）")
    add.add_argument("--closes", help="默认：上线后那个周日 22:00")
    add.set_defaults(func=with_services(episode_add))
    listing = episode.add_parser("list", help="列出每一期")
    listing.set_defaults(func=with_services(episode_list))

    qr = sub.add_parser("qr", help="给每个支部生成可打印的永久二维码（场景 branch-<支部码>）")
    qr.add_argument("codes", nargs="*", help="支部码（默认全部支部）")
    qr.set_defaults(func=with_services(branch_qr))

    remind = sub.add_parser("remind", help="立即执行一条提醒规则，或用 --plan 只看人数不发送")
    remind.add_argument("rule", nargs="?", help="content/study.toml 里的规则 id（--plan 时为全部规则）")
    remind.add_argument("--plan", action="store_true", help="打印规则会提醒到的人数，不发送")
    remind.set_defaults(func=with_services(remind_rule))

    branches = commands.imports.add_parser("branches", help="组织架构：区、街道、支部、团员数")
    branches.add_argument("file")
    branches.set_defaults(func=with_services(import_branches))
    eps = commands.imports.add_parser("study-episodes", help="青年大学习每期：期数、标题、链接、上线时间、截止时间")
    eps.add_argument("file")
    eps.set_defaults(func=with_services(import_episodes))
    done = commands.imports.add_parser("study-completions", help="团组织的官方学习名单")
    done.add_argument("file")
    done.add_argument("--episode", type=int, required=True, help="期数")
    done.set_defaults(func=with_services(import_completions))

    rep = commands.reports.add_parser("study", help="参学比：按支部、街道、全区")
    rep.add_argument("--episode", type=int, help="默认：最近上线的一期")
    rep.add_argument("--street", help="只看一个街道，比如 坂田")
    rep.add_argument("--trend", type=int, default=8, help="趋势显示最近几期（默认 8）")
    rep.add_argument("--csv", nargs="?", const="-", metavar="FILE", help="改为输出 CSV（写入文件，或 - 表示标准输出）")
    rep.set_defaults(func=with_services(report_study))


def _fail(message: str) -> int:
    print(f"longtuan: {message}", file=sys.stderr)
    return 1


async def episode_add(svc: Services, args: argparse.Namespace) -> int:
    try:
        opens = files.parse_time(args.opens, svc.tz)
        closes = files.parse_time(args.closes, svc.tz) if args.closes else files.default_close(opens)
    except ValueError:
        return _fail("时间的写法是 2026-12-07 10:00")
    if closes <= opens:
        return _fail("--closes must be after --opens")
    async with svc.db.session() as s:
        new = await episodes.upsert(s, args.number, args.title, args.link, opens, closes)
    state = "已添加" if new else "已更新"
    print(f"第{args.number}期{state}：{args.title}（{opens:%Y-%m-%d %H:%M} – {closes:%Y-%m-%d %H:%M}）")
    return 0


async def episode_list(svc: Services, args: argparse.Namespace) -> int:
    async with svc.db.session() as s:
        found = await episodes.all_episodes(s)
    for ep in found:
        o, c = ep.opens_at.astimezone(svc.tz), ep.closes_at.astimezone(svc.tz)
        print(f"{ep.number:>5}  {o:%Y-%m-%d %H:%M} – {c:%Y-%m-%d %H:%M}  {ep.title}  {ep.link}")
    if not found:
        print("还没有任何一期：用 longtuan study episode add … 添加")
    return 0


async def import_branches(svc: Services, args: argparse.Namespace) -> int:
    try:
        rows = files.branch_rows(read_rows(args.file))
    except ImportFailed as exc:
        return _fail(str(exc))
    async with svc.db.session() as s:
        loaded = await org.load(s, rows)
    streets = len({(r.district, r.street) for r in rows})
    print(f"{streets} 个街道的 {len(rows)} 个支部：新增 {loaded.added}，更新 {loaded.updated}，未变 {loaded.unchanged}")
    return 0


async def import_episodes(svc: Services, args: argparse.Namespace) -> int:
    try:
        rows = files.episode_rows(read_rows(args.file), svc.tz)
    except ImportFailed as exc:
        return _fail(str(exc))
    added = 0
    async with svc.db.session() as s:
        for row in rows:
            added += await episodes.upsert(s, *row)
    print(f"{len(rows)} 期：新增 {added}，更新或未变 {len(rows) - added}")
    return 0


async def import_completions(svc: Services, args: argparse.Namespace) -> int:
    try:
        rows = files.completion_rows(read_rows(args.file))
    except ImportFailed as exc:
        return _fail(str(exc))
    async with svc.db.session() as s:
        episode = await episodes.by_number(s, args.episode)
        if episode is None:
            return _fail(f"没有第 {args.episode} 期：先用 longtuan study episode add … 添加")
        matching = await completions.match(s, rows)
        done = await completions.confirm(s, episode.id, matching, svc.local_now())
    print(f"第{episode.number}期官方名单：{len(rows)} 行，对上 {len(matching.matched)} 人")
    print(f"  新增确认 {done.new}，自报转为确认 {done.upgraded}，之前已确认 {done.unchanged}")
    if matching.unmatched:
        print(f"对不上任何已绑定团员的 {len(matching.unmatched)} 行（没有绑定，或登记的姓名、手机号不一致）：")
        for row in matching.unmatched[:50]:
            print(f"  第 {row.row} 行：{row.name or '（无姓名）'}  {row.branch}  {_masked(row.mobile)}")
    if matching.ambiguous:
        print(f"对上多人、没有记录的 {len(matching.ambiguous)} 行（请补上手机号或团员编号）：")
        for row, count in matching.ambiguous[:50]:
            print(f"  第 {row.row} 行：{row.name}  {row.branch}：{count} 人同名")
    return 0


def _masked(mobile: str) -> str:
    return f"{mobile[:3]}****{mobile[-4:]}" if len(mobile) == 11 else mobile


async def branch_qr(svc: Services, args: argparse.Namespace) -> int:
    """Ask WeChat for each branch's permanent QR code; scanning it binds the member (handlers/study)."""
    from urllib.parse import quote

    from bot.channels.wechat.api import WeChatAPIError
    from handlers.study.parse import SCENE_PREFIX

    async with svc.db.session() as s:
        found = [(b.code, b.name) for b in await figures.branches(s)]
    wanted = {c.upper() for c in args.codes}
    chosen = [(code, name) for code, name in found if not wanted or code in wanted]
    unknown = wanted - {code for code, _ in chosen}
    if unknown:
        return _fail(f"没有这些支部码的支部：{'、'.join(sorted(unknown))}")
    if svc.wechat is None:
        return _fail("没有配置微信接口（LONGTUAN_WECHAT_APP_SECRET），生成不了二维码")
    for code, name in chosen:
        scene = {"scene": {"scene_str": f"{SCENE_PREFIX}{code}"}}
        try:
            data = await svc.wechat.call(
                "POST", "/cgi-bin/qrcode/create", json={"action_name": "QR_LIMIT_STR_SCENE", "action_info": scene}
            )
        except WeChatAPIError as exc:
            return _fail(f"微信拒绝生成 {code} 的二维码：errcode {exc.errcode}")
        image = "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=" + quote(str(data["ticket"]))
        print(f"{code}\t{name}\t{image}")
    return 0


async def remind_rule(svc: Services, args: argparse.Namespace) -> int:
    from handlers.study.jobs import run_rule
    from handlers.study.rules import find, rules_of

    try:
        chosen = [find(svc.settings, args.rule)] if args.rule else rules_of(svc.settings)
    except ConfigError as exc:
        return _fail(str(exc))
    if not args.plan and not args.rule:
        return _fail("请写明要执行的提醒规则（或用 --plan 查看每条规则的人数）")
    now = svc.local_now()
    async with svc.db.session() as s:
        episode = await episodes.current(s, now)
        plans = [await reminders.plan(s, episode.id, r.id, r.audience) for r in chosen] if episode else []
    if episode is None or not episode.is_open(now):
        print("现在没有正在进行的一期：不用发提醒")
        return 0
    if not args.plan:
        run = await run_rule(svc, chosen[0])
        other = ", ".join(f"{k} {v}" for k, v in sorted(run.other.items()))
        print(f"规则 {run.rule}，第{run.episode}期：已发 {run.sent} 条" + (f"，{other}" if other else ""))
        return 0
    print(f"第{episode.number}期「{episode.title}」，截止 {episode.closes_at.astimezone(svc.tz):%Y-%m-%d %H:%M}")
    for rule, plan in zip(chosen, plans, strict=True):
        last = rule.due(now, svc.settings.study_reminder_window)
        nxt = rule.next_time(now)
        print(f"\n规则 {rule.id}（{rule.audience.value}，cron {rule.cron!r}）")
        due = f"是，从 {last:%m-%d %H:%M} 起" if last else "否"
        print(f"  现在该发：{due}；下一次：{nxt:%Y-%m-%d %H:%M}")
        print(f"  已绑定团员    {plan.bound:>8}")
        print(f"  已取消关注    {plan.not_following:>8}")
        print(f"  暂停了提醒    {plan.paused:>8}")
        if rule.audience is reminders.Audience.PENDING:
            print(f"  已经学完      {plan.completed:>8}")
        print(f"  之前已提醒    {plan.already:>8}")
        print(f"  这次要发      {plan.to_send:>8}")
    return 0


async def report_study(svc: Services, args: argparse.Namespace) -> int:
    now = svc.local_now()
    street = args.street.strip().removesuffix("街道") if args.street else None  # 「坂田」 or 「坂田街道」
    async with svc.db.session() as s:
        episode = await episodes.by_number(s, args.episode) if args.episode else await episodes.current(s, now)
        if episode is None:
            return _fail(f"没有第 {args.episode} 期" if args.episode else "还没有已上线的一期")
        window = await episodes.recent(s, max(now, episode.opens_at), max(args.trend, 1), up_to=episode.number)
        branches = await figures.branches(s, street)
        done = await figures.completions(s, [e.id for e in window])
    if not branches:
        return _fail(f"{street}街道没有支部" if street else "还没有支部：先用 longtuan import branches 文件 导入")
    trend = {e.number: lines(branches, done, e) for e in window}
    current = trend.get(episode.number) or lines(branches, done, episode)
    if args.csv:
        text = as_csv(row for e in window for row in trend[e.number])
        if args.csv == "-":
            sys.stdout.write(text)
        else:
            await asyncio.to_thread(Path(args.csv).write_text, text, encoding="utf-8-sig")  # BOM: Excel reads UTF-8
            print(f"已写入 {args.csv}")
        return 0
    print(as_text(current, trend if len(window) > 1 else {}, episode, street))
    return 0
