"""How posts read in a chat: one short line in a list, and the detail page."""

from __future__ import annotations

from datetime import date

from bot.content import Content
from bot.db.internships.posts import PostRow
from bot.model import Reply

PAGE_SIZE = 5
#: A description longer than this is cut in the detail page (WeChat caps a text at 2,048 bytes).
DESCRIPTION_CHARS = 300


def short_company(name: str) -> str:
    """「深圳市丰辰空间设计有限公司」 reads 「丰辰空间设计」 in a list."""
    for prefix in ("深圳市", "深圳"):
        name = name.removeprefix(prefix)
    for suffix in ("股份有限公司", "有限责任公司", "有限公司", "公司"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name.removesuffix(suffix)
    return name


def line(number: int, post: PostRow) -> str:
    return f"{number}. {post.title}｜{short_company(post.company)}（{post.street} · {post.season} · {post.pay}）"


def lines(posts: list[PostRow], first: int = 1) -> str:
    return "\n".join(line(first + i, p) for i, p in enumerate(posts))


def day(d: date, today: date | None = None) -> str:
    """「6月27日」, with the year when it is not this year's (「2027年6月27日」)."""
    if today is not None and d.year != today.year:
        return f"{d.year}年{d.month}月{d.day}日"
    return f"{d.month}月{d.day}日"


def detail(content: Content, post: PostRow, today: date) -> Reply:
    description = post.description
    if len(description) > DESCRIPTION_CHARS:
        description = description[:DESCRIPTION_CHARS] + "…"
    open_ = post.is_open(today)
    return Reply(
        "internships.detail",
        {
            "title": post.title,
            "company": post.company,
            "street": post.street,
            "industry": post.industry,
            # TOML trims the text, so the separator is added here.
            "hmt": " · " + content.text("internships.hmt_mark") if post.hmt_round else "",
            "season": post.season,
            "start": day(post.start_date, today),
            "deadline": day(post.deadline, today),
            "pay": post.pay,
            "positions": post.positions,
            "majors": post.majors.replace(";", "、"),
            "description": description,
            "action": content.text("internships.apply_hint" if open_ else "internships.closed_hint"),
        },
    )
