"""A person's own signups: 「我的课程」, and 「取消报名」 without naming the class."""

from __future__ import annotations

from bot.context import Context
from bot.db.courses import signups
from bot.db.users import ensure_user
from bot.model import Button, Inbound, Reply
from handlers.courses import format as fmt
from handlers.courses.browse import utc
from handlers.courses.signup import cancel

_STATUS = {"confirmed": "已报名", "attended": "已签到"}


async def my_classes(msg: Inbound, ctx: Context) -> Reply:
    async with ctx.db() as s:
        uid = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
        found = await signups.mine(s, uid, utc(ctx))
    if not found:
        return Reply("courses.mine_empty")
    tz = ctx.services.tz
    lines = []
    for i, m in enumerate(found, start=1):
        status = f"候补第{m.position}位" if m.status == "waitlisted" else _STATUS.get(m.status, "")
        lines.append(f"{i}. 【{m.theme}】{m.title}｜{fmt.when(m.starts_at, m.ends_at, tz)}｜{m.venue}｜{status}")
    buttons = [
        Button(f"取消「{m.title}」", payload=f"取消报名#{m.class_id}")
        for m in found
        if m.status in ("confirmed", "waitlisted")
    ][:3]
    return Reply("courses.mine", {"lines": "\n".join(lines)}, buttons=buttons)


async def cancel_which(msg: Inbound, ctx: Context) -> Reply | None:
    """「取消报名」: the one live signup is named and cancelled with a tap; with several, the person picks.
    Without a class signup, 「退课」 says so; a plain 「取消报名」 is left to the volunteer programme
    next (its shifts, or nothing to cancel anywhere)."""
    async with ctx.db() as s:
        uid = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
        found = [m for m in await signups.mine(s, uid, utc(ctx)) if m.status in ("confirmed", "waitlisted")]
    if not found:
        said = msg.text
        return Reply("courses.mine_empty") if "课" in said or "夜校" in said else None
    if len(found) == 1:
        return await cancel(msg, ctx, found[0].class_id, ask_first=True)
    tz = ctx.services.tz
    lines = "\n".join(f"{i}. {m.title}｜{fmt.when(m.starts_at, m.ends_at, tz)}" for i, m in enumerate(found, start=1))
    buttons = [Button(f"取消「{m.title}」", payload=f"取消报名#{m.class_id}") for m in found][:5]
    return Reply("courses.cancel_which", {"lines": lines}, buttons=buttons)
