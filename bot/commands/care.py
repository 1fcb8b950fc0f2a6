"""Care's commands for staff: ``longtuan inbox list|show|reply|close``, ``longtuan report unanswered``
and ``longtuan faq check "问题"``."""

from __future__ import annotations

import argparse
import sys
import unicodedata
from collections import Counter
from typing import TYPE_CHECKING

from bot.commands import Commands, with_services
from bot.context import Services
from bot.db.care import (
    ThreadRow,
    add_outgoing,
    close_thread,
    forget_person,
    get_thread,
    list_threads,
    set_delivery,
    unanswered_since,
)
from bot.model import Reply
from bot.outbound import Notice, Status
from bot.text import Analyzer, normalise, to_traditional

if TYPE_CHECKING:
    from bot.content import Content

#: WeChat accepts customer-service messages for 48 hours after the person last wrote (or tapped).
WINDOW = 48 * 3600
REASONS = {
    "message": "留言",
    "self_harm": "紧急·自伤",
    "abuse": "紧急·受侵害",
    "bullying": "紧急·欺凌",
    "danger": "紧急·危险",
}
VIA = {"crisis": "求助词（自动转来）"}
STATUSES = {"open": "待回复", "answered": "已回复", "closed": "已关闭"}


def _ago(seconds: float) -> str:
    if seconds < 3600:
        return f"{max(1, int(seconds // 60))}分钟"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)}小时"
    return f"{int(seconds // 86400)}天"


def window_left(row: ThreadRow, now: float) -> float:
    """Seconds left of the customer-service window (<= 0: closed), from ``users.last_seen``."""
    return row.last_seen.timestamp() + WINDOW - now


def _window(row: ThreadRow, now: float) -> str:
    left = window_left(row, now)
    return f"窗口还剩{_ago(left)}" if left > 0 else "窗口已关闭"


def _pad(text: str, width: int) -> str:
    """Left-aligned in ``width`` terminal columns: a Chinese character takes two."""
    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - used)


def _line(text: str, width: int = 40) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


async def inbox_list(svc: Services, args: argparse.Namespace) -> int:
    async with svc.db.session() as s:
        rows = await list_threads(s, include_closed=args.all)
    now = svc.now()
    if not rows:
        print("留言箱是空的。")
        return 0
    for row in rows:
        print(
            f"#{row.id:<5} {_pad(REASONS.get(row.reason, row.reason), 12)}{STATUSES.get(row.status, row.status)}  "
            f"{_ago(now - row.opened_at.timestamp())}前  {row.messages}条  {_window(row, now)}  "
            f"「{_line(row.first)}」"
        )
    return 0


async def inbox_show(svc: Services, args: argparse.Namespace) -> int:
    async with svc.db.session() as s:
        found = await get_thread(s, args.id)
    if found is None:
        print(f"没有 #{args.id} 这条留言。", file=sys.stderr)
        return 1
    row, messages = found
    now, tz = svc.now(), svc.tz
    print(f"#{row.id}  {REASONS.get(row.reason, row.reason)}  {STATUSES.get(row.status, row.status)}")
    print(f"用户：{row.channel} {row.external_id}（{'繁体' if row.hant else '简体'}）")
    print(f"最后一次互动：{row.last_seen.astimezone(tz):%Y-%m-%d %H:%M}，{_window(row, now)}")
    for m in messages:
        via = m.context.get("via")
        if via:
            print(f"  —— 来源：{VIA.get(via, via)}")
        recent = m.context.get("recent") or []
        if recent:
            print("  —— 之前没答上的问题（已脱敏）：" + "；".join(f"「{t}」" for t in recent))
        who = "用户" if m.direction == "in" else f"工作人员（{m.delivery}）"
        print(f"  {m.created_at.astimezone(tz):%m-%d %H:%M} {who}：{m.text}")
    return 0


async def inbox_reply(svc: Services, args: argparse.Namespace) -> int:
    text = " ".join(args.text).strip()
    if not text:
        print("回复内容是空的。", file=sys.stderr)
        return 2
    now = svc.now()
    async with svc.unit() as unit:
        s = unit.session
        found = await get_thread(s, args.id)
        if found is None:
            print(f"没有 #{args.id} 这条留言。", file=sys.stderr)
            return 1
        row, _ = found
        if row.status == "closed":
            print(f"#{row.id} 已关闭，没有发送。", file=sys.stderr)
            return 1
        if window_left(row, now) <= 0:
            seen = row.last_seen.astimezone(svc.tz)
            print(
                f"没有发送：微信的 48 小时客服消息窗口已关闭（对方最后一次互动是 {seen:%Y-%m-%d %H:%M}，"
                f"{_ago(now - seen.timestamp())}前）。等对方再发消息后重试，`longtuan inbox list` 会显示窗口。",
                file=sys.stderr,
            )
            return 1
        message_id = await add_outgoing(s, row.id, text, now)
        body = svc.content.text("care.staff_reply", text=text)
        reply = Reply(key="care.staff_reply", text=to_traditional(body) if row.hant else body)
        key = f"staff_reply:{row.id}:{message_id}"
        unit.notify(Notice(row.channel, row.external_id, "staff_reply", reply, key=key))
    result = unit.results[0]
    delivery = result.status.value + (f":{result.reason}" if result.reason else "")
    async with svc.db.session() as s:
        await set_delivery(s, message_id, row.id, delivery, svc.now())
    if result.ok:
        if result.status is Status.SENT:
            print(f"已发送给 #{row.id}。")
        else:  # the outbox: a worker sends it as a customer-service message while the window is open
            print(f"已排队，发送进程会把它发给 #{row.id}。")
        return 0
    if result.reason == "outside_window":
        print("没有送达：微信说 48 小时客服消息窗口已关闭。等对方再发消息后重试。", file=sys.stderr)
    elif result.status is Status.RETRY:
        print(f"没有送达：微信暂时繁忙（{result.reason}），稍后再试一次。", file=sys.stderr)
    else:
        print(f"没有送达：{result.reason or result.status.value}。", file=sys.stderr)
    return 1


async def inbox_close(svc: Services, args: argparse.Namespace) -> int:
    async with svc.db.session() as s:
        closed = await close_thread(s, args.id, svc.now())
    if not closed:
        print(f"没有可关闭的 #{args.id}（不存在或已关闭）。", file=sys.stderr)
        return 1
    print(f"#{args.id} 已关闭；{svc.settings.inbox_days} 天后删除。")
    return 0


async def privacy_forget(svc: Services, args: argparse.Namespace) -> int:
    """What the privacy answer promises: a person who asks is deleted."""
    from sqlalchemy.exc import IntegrityError

    from handlers.care.fallback import user_hash

    who = user_hash(svc.settings.unanswered_salt.get_secret_value(), args.channel, args.external_id)
    try:
        async with svc.db.session() as s:
            found, questions = await forget_person(s, args.channel, args.external_id, who)
    except IntegrityError as exc:
        # A programme table that keeps its rows (no ON DELETE CASCADE) must be cleared first.
        print(f"没有删除：还有数据引用这个用户（{exc.orig}）。", file=sys.stderr)
        return 1
    if not found and not questions:
        print(f"没有 {args.channel} {args.external_id} 的数据。")
        return 0
    rows = "1条" if found else "0条"
    print(f"已删除 {args.channel} {args.external_id}：用户记录{rows}（连同留言），未答问题{questions}条。")
    return 0


#: Words that say nothing about the topic of a question.
_STOP = """
怎么 什么 可以 我们 你们 他们 请问 一下 如何 哪里 为什么 是不是 有没有 能不能 可不可以 这个 那个 就是 还是
现在 知道 想问 问问 问一下 一个 多少 需要 没有 不是 怎样 怎么样 时候 应该 要求 然后 还有 已经 这里 那里
哪个 今天 明天 可能 真的 东西 姓名 手机号 身份证号 号码 邮箱
"""
STOPWORDS = frozenset(_STOP.split())


def keywords(analyzer: Analyzer, text: str) -> set[str]:
    return {w for w in analyzer.analyse(text).words if len(w) >= 2 and w not in STOPWORDS and not w.isdigit()}


def group_unanswered(analyzer: Analyzer, rows: list[tuple[str, str]]) -> list[tuple[str, list[str], int]]:
    """Greedy grouping: the keyword most questions share takes them, then the next, and so on.

    Returns (keyword or "", texts, distinct askers), most asked first; "" holds the rest.
    """
    left = [(text, who, keywords(analyzer, text)) for text, who in rows]
    groups: list[tuple[str, list[str], int]] = []
    while True:
        counts = Counter(w for _, _, ws in left for w in ws)
        if not counts:
            break
        word, _ = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        taken = [x for x in left if word in x[2]]
        left = [x for x in left if word not in x[2]]
        groups.append((word, [t for t, _, _ in taken], len({w for _, w, _ in taken})))
    if left:
        groups.append(("", [t for t, _, _ in left], len({w for _, w, _ in left})))
    return groups


async def report_unanswered(svc: Services, args: argparse.Namespace) -> int:
    since = svc.now() - args.days * 86400
    async with svc.db.session() as s:
        rows = await unanswered_since(s, since)
    if not rows:
        print(f"近 {args.days} 天没有答不上的问题。")
        return 0
    askers = len({who for _, who in rows})
    kept = svc.settings.unanswered_days
    print(f"近 {args.days} 天答不上的问题：{len(rows)} 条，{askers} 人问过（已脱敏，保留 {kept} 天）")
    print(f"{_pad('关键词', 14)}{_pad('次数', 6)}{_pad('人数', 6)}例子")
    for word, texts, people in group_unanswered(svc.analyzer, rows)[: args.top]:
        examples = "  ".join(f"「{_line(t, 24)}」" for t in list(dict.fromkeys(texts))[:3])
        print(f"{_pad(word or '（其他）', 14)}{len(texts):<6}{people:<6}{examples}")
    return 0


def faq_check(args: argparse.Namespace) -> None:
    """Which entry a question reaches and why; no database needed."""
    from bot.content import load_content
    from bot.settings import load_settings
    from bot.text import to_simplified
    from handlers.care.config import care_content
    from handlers.care.crisis import LOW_MOOD, CrisisWords
    from handlers.faq import FaqIndex

    settings = load_settings()
    content = load_content(settings.content_dir or None)
    analyzer = Analyzer(content.synonyms, content.dict_path)
    question = to_simplified(" ".join(args.question))
    print(f"问题：「{question}」")
    print("分词（同义词归一后）：" + " ".join(sorted(analyzer.analyse(question).words)))
    for line in _caught_before(content, question, CrisisWords(care_content(content)).classify(question), LOW_MOOD):
        print(line)
    index = FaqIndex(content.faq, analyzer)
    entry = index.match(question)
    print(f"会答：{entry.id}「{entry.question}」" if entry else "没有条目全部命中：走兜底回复（会被记入未答问题）")
    print("得分（关键词全中才算命中；其余按 2×关键词 + also + 3×字对相似度排）：")
    for sc in index.scores(question)[: args.top]:
        mark = "✓" if sc.matches else " "
        print(
            f" {mark} {sc.entry.id:<26} 关键词 {'+'.join(sorted(sc.keywords)) or '-'}"
            f"{'（缺 ' + '+'.join(sorted(sc.missing)) + '）' if sc.missing else ''}"
            f"  also {'+'.join(sorted(sc.also)) or '-'}  相似 {sc.similarity:.2f}  分 {sc.closeness:.1f}"
        )


def _caught_before(content: Content, question: str, crisis: str | None, low_mood: str) -> list[str]:
    """Routes that answer before the FAQ: crisis words, command words."""
    lines = []
    if crisis is not None:
        lines.append(f"注意：会先被{'情绪低落' if crisis == low_mood else '求助'}词表接住（{crisis}），不会走到 FAQ")
    norm = normalise(question)
    for name, words in content.commands.items():
        if norm in {normalise(w) for w in words} or question.strip() in words:
            lines.append(f"注意：整句是命令词「{name}」，不会走到 FAQ")
    return lines


def register(commands: Commands) -> None:
    inbox = commands.root.add_parser("inbox", help="人工留言：大家留给工作人员的话")
    sub = inbox.add_subparsers(dest="action", required=True)
    listing = sub.add_parser("list", help="未结束的留言，紧急的在前")
    listing.add_argument("--all", action="store_true", help="也列出已结束的")
    listing.set_defaults(func=with_services(inbox_list))
    show = sub.add_parser("show", help="看一条留言的全部消息")
    show.add_argument("id", type=int)
    show.set_defaults(func=with_services(inbox_show))
    reply = sub.add_parser("reply", help="回复留言（客服消息，48 小时内）")
    reply.add_argument("id", type=int)
    reply.add_argument("text", nargs="+")
    reply.set_defaults(func=with_services(inbox_reply))
    close = sub.add_parser("close", help="结束一条留言")
    close.add_argument("id", type=int)
    close.set_defaults(func=with_services(inbox_close))

    unanswered = commands.reports.add_parser("unanswered", help="机器人没答上的问题，按关键词归类")
    unanswered.add_argument("--days", type=int, default=7)
    unanswered.add_argument("--top", type=int, default=20, help="显示多少组关键词")
    unanswered.set_defaults(func=with_services(report_unanswered))

    privacy = commands.root.add_parser("privacy", help="处理个人信息方面的请求")
    privacy_sub = privacy.add_subparsers(dest="action", required=True)
    forget = privacy_sub.add_parser("forget", help="删除保存的关于某个人的全部信息")
    forget.add_argument("external_id", help="这个人的 openid（见 `longtuan inbox show`）")
    forget.add_argument("--channel", default="wechat")
    forget.set_defaults(func=with_services(privacy_forget))

    faq = commands.root.add_parser("faq", help="常见问题工具")
    faq_sub = faq.add_subparsers(dest="action", required=True)
    check = faq_sub.add_parser("check", help="一句话会匹配到哪条问答，以及各条的分数")
    check.add_argument("question", nargs="+")
    check.add_argument("--top", type=int, default=5)
    check.set_defaults(func=faq_check)
