"""Check-in in the room: the class's QR code (scan, or follow on the spot) or its short code, in the window."""

from __future__ import annotations

from datetime import timedelta

from bot.context import Context
from bot.db.courses import attendance, catalogue
from bot.db.courses.catalogue import ClassView
from bot.db.users import ensure_user
from bot.model import Inbound, Reply
from handlers.courses import format as fmt
from handlers.courses.browse import utc
from handlers.courses.signup import made_durable


async def by_scene(msg: Inbound, ctx: Context, class_id: int) -> Reply:
    async with ctx.db() as s:
        cls = await catalogue.get(s, class_id)
    if cls is None:
        return Reply("courses.checkin_unknown")
    return await check_in(msg, ctx, cls, "scan")


async def by_code(msg: Inbound, ctx: Context, code: str) -> Reply:
    async with ctx.db() as s:
        cls = await catalogue.by_code(s, code)
    if cls is None:
        return Reply("courses.code_unknown", {"code": code})
    return await check_in(msg, ctx, cls, "code")


async def check_in(msg: Inbound, ctx: Context, cls: ClassView, cause: str) -> Reply:
    """Inside the window only; a seat holder is checked in, anyone else is a walk-in while seats are free."""
    settings, tz = ctx.settings, ctx.services.tz
    now = utc(ctx)
    opens = cls.starts_at - timedelta(seconds=settings.courses_checkin_before)
    closes = cls.starts_at + timedelta(seconds=settings.courses_checkin_after)
    if not cls.is_open:
        return Reply("courses.closed", {"title": cls.title})
    if not opens <= now <= closes:
        return Reply(
            "courses.checkin_outside",
            {
                "title": cls.title,
                "day": fmt.day(cls.starts_at, tz),
                "opens": fmt.clock(opens, tz),
                "closes": fmt.clock(closes, tz),
            },
        )
    async with ctx.db() as s:
        uid = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
        result = await attendance.check_in(s, cls.id, uid, now, cause)
        if result is None:
            # Someone holding a seat in another class open for check-in now has the wrong code or
            # poster: tell them, change nothing (a walk-in here would cost them their seat there).
            other = await attendance.seated_elsewhere(
                s, uid, cls.id, now, settings.courses_checkin_before, settings.courses_checkin_after
            )
            if other is not None:
                return Reply(
                    "courses.checkin_other_class", {"title": cls.title, "other": other.title, "venue": other.venue}
                )
            result = await attendance.walk_in(s, cls.id, uid, now, cause)
    if result.status == "walk_in":
        await made_durable(ctx)
    if result.status == "checked_in":
        return Reply("courses.checked_in", {"title": cls.title, "venue": cls.venue})
    if result.status == "already":
        return Reply("courses.checkin_already", {"title": cls.title})
    if result.status == "walk_in":
        return Reply("courses.walk_in", {"title": cls.title})
    return Reply("courses.walk_in_full", {"title": cls.title})
