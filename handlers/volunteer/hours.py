"""「我的时长」 and 「礼遇」: totals from the ledger, the star level, and the perks it unlocks."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from bot.content import Content
from bot.context import Context
from bot.db.volunteer import ledger
from bot.db.volunteer.rules import format_hours
from bot.model import Inbound, Kind, Reply
from bot.router import Router
from bot.router.filters import Command
from handlers.volunteer import format as fmt
from handlers.volunteer import query, stars

RECENT = 3


class _AsksOwnHours:
    """「我的志愿时长是多少」「我几星了」「查一下我的时长」, said in a sentence."""

    #: Judges by the message's kind and text alone (``bot.router``: a refusal holds for that text).
    by_text = True

    kinds = frozenset({Kind.TEXT, Kind.VOICE})

    def __call__(self, msg: Inbound, ctx: Context) -> bool:
        return bool(msg.text) and query.asks_own_hours(msg.text)


def _perk_lines(ctx: Context, perks: list[stars.Perk]) -> str:
    return "\n".join(
        ctx.content.text("volunteer.perk_line", provider=p.provider, title=p.title, where=p.where) for p in perks
    )


def router(content: Content) -> Router:
    r = Router("volunteer.hours")

    @r.on(Command(content.commands["volunteer_hours"]))
    async def my_hours(msg: Inbound, ctx: Context) -> Reply:
        today = ctx.local_now().date()
        mine = await ledger.summary(ctx.services.db, msg.channel, msg.user_id, date(today.year, 1, 1), RECENT)
        cat = stars.catalogue(ctx.settings.content_dir)
        if not mine.recent:
            first = cat.levels[0]
            named = {"first": format_hours(first.hours), "first_name": first.name}
            if mine.serving:
                return Reply("volunteer.hours_first_serving", {**named, "title": mine.serving})
            return Reply("volunteer.hours_none", named)
        level = cat.level_of(mine.total)
        up = cat.next_after(level)
        progress = (
            ctx.content.text("volunteer.progress_next", left=format_hours(up.hours - mine.total), name=up.name)
            if up
            else ctx.content.text("volunteer.progress_top")
        )
        serving = ctx.content.text("volunteer.hours_serving", title=mine.serving) + "\n" if mine.serving else ""
        recent = []
        for line in mine.recent:
            day, hours = fmt.day(ctx.content, line.served_on), format_hours(line.hours)
            if line.kind == "correction":
                recent.append(ctx.content.text("volunteer.recent_correction", day=day, hours=hours))
            else:
                recent.append(ctx.content.text("volunteer.recent_line", day=day, title=line.title, hours=hours))
        return Reply(
            "volunteer.hours",
            {
                "serving": serving,
                "total": format_hours(mine.total),
                "services": mine.services,
                "year": format_hours(mine.this_year),
                "level": level.name if level else ctx.content.text("volunteer.no_level"),
                "progress": progress,
                "recent": "\n".join(recent),
            },
        )

    r.on(_AsksOwnHours())(my_hours)

    @r.on(Command(content.commands["volunteer_perks"]))
    async def perks(msg: Inbound, ctx: Context) -> Reply:
        async with ctx.db() as s:
            user_id = await ledger.user_id_of(s, msg.channel, msg.user_id)
            total = await ledger.total_hours(s, user_id) if user_id else Decimal(0)
        cat = stars.catalogue(ctx.settings.content_dir)
        level = cat.level_of(total)
        up = cat.next_after(level)
        if level is None:
            first = cat.levels[0]
            return Reply(
                "volunteer.perks_below",
                {
                    "total": format_hours(total),
                    "left": format_hours(first.hours - total),
                    "next_name": first.name,
                    "next": _perk_lines(ctx, cat.perks_at(first.stars)),
                },
            )
        mine = _perk_lines(ctx, cat.perks_up_to(level.stars)[:8])
        if up is None:
            return Reply("volunteer.perks_top", {"level": level.name, "mine": mine})
        return Reply(
            "volunteer.perks",
            {"level": level.name, "mine": mine, "next_name": up.name, "next": _perk_lines(ctx, cat.perks_at(up.stars))},
        )

    return r
