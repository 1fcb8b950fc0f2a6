"""Browsing: the catalogue by theme, street or week, paged, and one class in detail."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from bot.context import Context
from bot.db.courses import catalogue, signups
from bot.db.courses.catalogue import ClassView
from bot.db.users import ensure_user
from bot.errors import Unavailable
from bot.model import Button, Inbound, Reply
from handlers.courses import format as fmt
from handlers.courses.intents import LIST, SHOWN, residue, when_in

PAGE = 5


def remember(ctx: Context, key: str, value: dict[str, Any]) -> None:
    """Keep what was shown, for a number or 「报名」 to follow; without the session store, show it all the same."""
    # The list is still read; only "2" or 「更多」 after it will not find it.
    with contextlib.suppress(Unavailable):
        ctx.update(**{key: value})


def utc(ctx: Context) -> datetime:
    return datetime.fromtimestamp(ctx.now(), UTC)


#: An unknown topic this long, in a message that does not say 夜校, is left to the other programmes.
MAX_UNKNOWN_TOPIC = 4


def names_classes(ctx: Context, query: str) -> bool:
    """Whether a browse-like message is the night school's to answer (before any database read)."""
    if "夜校" in query:
        return True
    _, _, rest = when_in(query, ctx.local_now())
    return len(residue(rest)) <= MAX_UNKNOWN_TOPIC or any(s in rest for s in ctx.content.streets)


async def names_a_filter(ctx: Context, said: str) -> bool:
    """Whether a short word names a theme (「摄影」), a street, a week or a part of the day."""
    span, part, rest = when_in(said, ctx.local_now())
    if span is not None or part is not None or any(s in rest for s in ctx.content.streets):
        return True
    async with ctx.db() as s:
        themes = await catalogue.themes(s)
    topic = residue(rest)
    return len(topic) >= 2 and any(t.named_in(rest, topic) for t in themes)


async def show_list(msg: Inbound, ctx: Context, query: str, page: int = 0, intro: bool = False) -> Reply:
    """The classes a query names (theme, street, week, part of the day), the person's street first; page ``page``."""
    now_local = ctx.local_now()
    streets = ctx.content.streets
    span, part, rest = when_in(query, now_local)
    street = next((s for s in streets if s in rest), None)
    if street:
        rest = rest.replace(street, "")
    user = await ctx.users.get(msg.channel, msg.user_id)
    mine = user.street if user is not None else ""
    async with ctx.db() as s:
        themes = await catalogue.themes(s)
        topic = residue(rest)
        theme = next((t for t in themes if t.named_in(rest, topic)), None)
        unknown = topic if theme is None else ""
        found, total = await catalogue.upcoming(
            s,
            utc(ctx),
            theme_id=theme.id if theme else None,
            street=street,
            from_=span.start if span else None,
            until=span.end if span else None,
            hours=(part.first, part.last) if part else None,
            tz=ctx.settings.timezone,
            street_first=mine,
            limit=PAGE,
            offset=page * PAGE,
        )
    names = "、".join(t.name for t in themes)
    if not themes:  # no term imported yet: nothing to list, and no themes to suggest
        return Reply("courses.menu_empty") if intro else Reply("courses.none_yet")
    if unknown and not street and not span and not part:
        return Reply("courses.unknown_topic", {"topic": unknown, "themes": names})
    parts = [
        theme.name if theme else "",
        f"{street}街道" if street else "",
        (span.label if span else "") + (part.label if part else ""),
    ]
    scope = "·".join(p for p in parts if p)
    if not found:
        if page:
            return Reply("courses.list_end")
        if not scope:  # nothing at all to sign up for (a new term not imported yet)
            return Reply("courses.menu_empty") if intro else Reply("courses.none_yet")
        return Reply("courses.list_empty", {"scope": scope, "themes": names})
    return list_reply(ctx, found, total, scope or "近期", query, page, intro)


def list_reply(
    ctx: Context, found: list[ClassView], total: int, scope: str, query: str, page: int = 0, intro: bool = False
) -> Reply:
    """A page of classes, numbered; the ids are kept so that "2" or 「更多」 can follow."""
    remember(ctx, LIST, {"ids": [c.id for c in found], "q": query, "page": page, "at": ctx.now()})
    tz = ctx.services.tz
    more = (page + 1) * PAGE < total
    footer = ctx.content.text("courses.list_more") if more else ctx.content.text("courses.list_last")
    # Each class is one tappable line (it sends 「课程#id」 back): the list is its lines, shown once.
    buttons = [Button(fmt.line(i, c, tz), payload=f"课程#{c.id}") for i, c in enumerate(found, start=1)]
    if more:
        buttons.append(Button("更多", payload="更多"))
    first = page * PAGE + 1
    return Reply(
        "courses.list",
        {
            "intro": ctx.content.text("menu.night_school") + "\n\n" if intro else "",
            "scope": scope,
            "range": f"{first}–{first + len(found) - 1}",
            "total": total,
            "footer": footer,
        },
        buttons=buttons,
    )


def detail_params(ctx: Context, cls: ClassView) -> dict[str, Any]:
    tz = ctx.services.tz
    return {
        "theme": cls.theme,
        "title": cls.title,
        "when": fmt.when(cls.starts_at, cls.ends_at, tz),
        "venue": cls.venue,
        "street": cls.street,
        "teacher": cls.teacher,
        "seats": fmt.seats(ctx.content, cls),
    }


async def show_class(msg: Inbound, ctx: Context, class_id: int) -> Reply:
    """One class: time, place, teacher, seats; and what the person can do with it."""
    async with ctx.db() as s:
        cls = await catalogue.get(s, class_id)
        if cls is None:
            return Reply("courses.not_found")
        uid = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
        live = await signups.live_signup(s, class_id, uid)
    params = detail_params(ctx, cls)
    if not cls.is_open or cls.starts_at <= utc(ctx):
        return Reply("courses.detail_closed", params)
    remember(ctx, SHOWN, {"id": cls.id, "at": ctx.now()})
    if live is not None and live.status == "waitlisted":
        return Reply(
            "courses.detail_waiting",
            {**params, "position": live.position},
            buttons=[Button("取消候补", payload=f"取消报名#{cls.id}")],
        )
    if live is not None:
        return Reply("courses.detail_booked", params, buttons=[Button("取消报名", payload=f"取消报名#{cls.id}")])
    if cls.seats_left > 0 and cls.waiting == 0:
        return Reply("courses.detail", params, buttons=[Button("我要报名", payload=f"报名#{cls.id}")])
    return Reply("courses.detail", params, buttons=[Button("排候补", payload=f"候补#{cls.id}")])
