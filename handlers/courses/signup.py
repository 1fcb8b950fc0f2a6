"""Signing up and cancelling: the one-time profile flow, a seat or the waitlist, a cancellation's promotion."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import Context
from bot.db.courses import attendance, catalogue, sessions, signups
from bot.db.courses.catalogue import ClassView
from bot.db.courses.signups import Brief, Profile, Promoted
from bot.db.users import ensure_user
from bot.model import Button, Inbound, Reply
from bot.outbound import Notice
from bot.session.base import State, StatesGroup
from handlers.answers import not_a_choice, not_a_name
from handlers.courses import format as fmt
from handlers.courses import reminding
from handlers.courses.browse import list_reply, show_list, utc
from handlers.courses.phones import masked, normalise_mobile
from handlers.profile import pick_street


class CourseSignupFlow(StatesGroup):
    """Asked once, the first time a person signs up: name, mobile, then street (unless saved)."""

    title_key = "flows.course_signup"
    name = State()
    mobile = State()
    street = State()


_NAME = re.compile(r"[\u4e00-\u9fffA-Za-z·• ]{2,20}")


def numbered_streets(ctx: Context) -> str:
    return "\n".join(f"{i}. {name}" for i, name in enumerate(ctx.content.streets, start=1))


def promoted_notice(ctx: Context, cls: ClassView, p: Promoted) -> Notice:
    tz = ctx.services.tz
    when = fmt.when(cls.starts_at, cls.ends_at, tz)
    reply = Reply("courses.promoted", {"title": cls.title, "when": when, "venue": cls.venue})
    fields = {"class": cls.title, "time": when, "venue": cls.venue}
    return Notice(p.channel, p.external_id, "waitlist_promoted", reply, f"waitlist_promoted:{p.signup_id}", fields)


async def sign_up(msg: Inbound, ctx: Context, class_id: int) -> Reply:
    """Sign the sender up for a class: the profile flow first if the night school has not met them.

    The hot path of a campaign: two statements on one of the process's signup sessions, neither
    inside a transaction (``sessions.seated``): the checks and the seat; then the flush that makes
    it durable, shared with the signups around it.
    """
    settings = ctx.settings
    now = utc(ctx)
    rule = {
        "limit": settings.courses_noshow_limit,
        "window_days": settings.courses_noshow_window_days,
        "block_days": settings.courses_block_days,
    }

    async def work(s: AsyncSession) -> Reply | tuple[Brief, signups.SignupResult]:
        since = attendance.block_since(now, rule["window_days"], rule["block_days"])
        uid, found = await signups.check(s, class_id, msg.channel, msg.user_id, ctx.now(), since)
        if found is None:
            return Reply("courses.not_found")
        cls = found.cls
        if cls.status != "open" or cls.starts_at <= now:
            return Reply("courses.closed", {"title": cls.title})
        if found.live is not None:
            return already(cls.title, found.live)
        until = attendance.block_end(found.no_shows, now, **rule)
        if until is not None:
            return Reply(
                "courses.blocked",
                {"limit": rule["limit"], "days": rule["window_days"], "until": fmt.day(until, ctx.services.tz)},
            )
        if not found.has_profile:
            ctx.enter(CourseSignupFlow.name, class_id=class_id)
            return Reply("courses.ask_name", {"title": cls.title})
        return cls, await signups.sign_up(s, class_id, uid, now)

    done = await sessions.seated(ctx.services.db, work)
    if isinstance(done, Reply):
        return done
    cls, result = done
    await sessions.flushed(ctx.services.db)
    return outcome(ctx, cls, result)


async def made_durable(ctx: Context) -> None:
    """A seat change committed asynchronously (``signups.lock_class``) is on disk before anyone hears of it."""
    await sessions.flushed(ctx.services.db)


async def sign_up_by_name(msg: Inbound, ctx: Context, name: str) -> Reply:
    """「报名摄影课」: the one class it names is signed up for; several are listed to pick from."""
    if not name:
        return await show_list(msg, ctx, "")
    async with ctx.db() as s:
        found = await catalogue.search(s, utc(ctx), name)
    if not found:
        return Reply("courses.no_such_class", {"name": name})
    if len(found) == 1:
        return await sign_up(msg, ctx, found[0].id)
    return list_reply(ctx, found, len(found), f"「{name}」", name)


def already(title: str, live: signups.Live) -> Reply:
    if live.status == "waitlisted":
        return Reply("courses.already_waiting", {"title": title, "position": live.position})
    if live.status == "attended":
        return Reply("courses.already_attended", {"title": title})
    return Reply("courses.already_booked", {"title": title})


def outcome(ctx: Context, cls: Brief, result: signups.SignupResult) -> Reply:
    cancel = [Button("取消报名", payload=f"取消报名#{cls.id}")]
    if result.status == "confirmed":
        remind = fmt.hours(ctx.settings.courses_remind_before)
        evening, soon = reminding.coming(cls.starts_at, utc(ctx), ctx.services.tz)
        promise = "courses.remind_both" if evening and soon else "courses.remind_soon" if soon else ""
        hours = fmt.hours(ctx.settings.courses_cancel_before)
        can_cancel = utc(ctx) < cls.starts_at - timedelta(seconds=ctx.settings.courses_cancel_before)
        cancelling = "courses.cancel_open" if can_cancel else "courses.cancel_closed"
        return Reply(
            "courses.booked",
            {
                "title": cls.title,
                "when": fmt.when(cls.starts_at, cls.ends_at, ctx.services.tz),
                "venue": cls.venue,
                "street": cls.street,
                "reminders": ctx.content.text(promise, remind=remind) if promise else "",
                "cancelling": ctx.content.text(cancelling, hours=hours),
            },
            buttons=cancel if can_cancel else [],
        )
    if result.status == "waitlisted":
        return Reply("courses.waitlisted", {"title": cls.title, "position": result.position}, buttons=cancel)
    if result.status == "already" and result.live is not None:
        return already(cls.title, result.live)
    if result.status == "missing":
        return Reply("courses.not_found")
    return Reply("courses.closed", {"title": cls.title})


# -- the profile flow ---------------------------------------------------------------------------


async def got_name(msg: Inbound, ctx: Context, text: str) -> Reply | None:
    name = text.strip()
    if not_a_name(ctx, name):
        return None
    if not _NAME.fullmatch(name):
        return Reply("courses.name_invalid")
    ctx.enter(CourseSignupFlow.mobile, **{**ctx.data, "name": name})
    return Reply("courses.ask_mobile", {"name": name})


async def got_mobile(msg: Inbound, ctx: Context, text: str) -> Reply | None:
    mobile = normalise_mobile(text)
    if mobile is None and not_a_name(ctx, text):
        return None
    if mobile is None:
        return Reply("courses.mobile_invalid")
    user = await ctx.users.get(msg.channel, msg.user_id)
    if user is not None and user.street:
        return await finish_profile(msg, ctx, Profile(str(ctx.data.get("name", "")), mobile, user.street))
    ctx.enter(CourseSignupFlow.street, **{**ctx.data, "mobile": mobile})
    return Reply("courses.ask_street", {"streets": numbered_streets(ctx)})


async def got_street(msg: Inbound, ctx: Context, text: str) -> Reply | None:
    street = pick_street(text, ctx.content.streets)
    if street is None and not_a_choice(ctx, text):
        return None
    if street is None:
        return Reply("courses.street_invalid", {"streets": numbered_streets(ctx)})
    data = ctx.data
    return await finish_profile(msg, ctx, Profile(str(data.get("name", "")), str(data.get("mobile", "")), street))


async def edit_profile(msg: Inbound, ctx: Context) -> Reply:
    """「修改手机号」「修改报名信息」: the same steps as the first signup, for no class (class_id 0)."""
    ctx.enter(CourseSignupFlow.name, class_id=0)
    return Reply("courses.edit_ask_name")


async def finish_profile(msg: Inbound, ctx: Context, p: Profile) -> Reply:
    """Keep the details, then sign up for the class the flow started from (none: an edit)."""
    class_id = int(ctx.data.get("class_id", 0))
    async with ctx.db() as s:
        uid = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
        await signups.save_profile(s, uid, p, utc(ctx))
    ctx.finish()
    if not class_id:
        return Reply("courses.profile_updated", {"name": p.name, "mobile": masked(p.mobile), "street": p.street})
    saved = ctx.content.text("courses.profile_saved", name=p.name, mobile=masked(p.mobile), street=p.street)
    reply = await sign_up(msg, ctx, class_id)
    # Built anew, not rendered in place: a Reply is never changed once made.
    body = reply.text or ctx.content.text(reply.key, **reply.params)
    return Reply(text=f"{saved}\n\n{body}", buttons=reply.buttons)


async def flow_cancelled(msg: Inbound, ctx: Context) -> Reply:
    editing = not ctx.data.get("class_id")
    ctx.finish()
    return Reply("courses.edit_cancelled" if editing else "courses.flow_cancelled")


# -- cancelling ---------------------------------------------------------------------------------


async def cancel(msg: Inbound, ctx: Context, class_id: int, *, ask_first: bool = False) -> Reply:
    """Give back a seat or a waitlist place; refused after the deadline, with the reason.

    ``ask_first`` (a typed 「取消报名」, which may have meant a volunteer shift): say what would be
    cancelled and let the person confirm with a tap, instead of giving the seat away at once."""
    settings = ctx.settings
    now = utc(ctx)
    tz = ctx.services.tz
    async with ctx.db() as s:
        cls = await catalogue.get(s, class_id)
        if cls is None:
            return Reply("courses.not_found")
        uid = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
        live = await signups.live_signup(s, class_id, uid)
        if live is None or live.status not in ("confirmed", "waitlisted"):
            return Reply("courses.nothing_to_cancel", {"title": cls.title})
        deadline = cls.starts_at - timedelta(seconds=settings.courses_cancel_before)
        if cls.starts_at <= now or (live.status == "confirmed" and now > deadline):
            return Reply(
                "courses.cancel_too_late",
                {
                    "title": cls.title,
                    "hours": fmt.hours(settings.courses_cancel_before),
                    "deadline": fmt.day(deadline, tz) + fmt.clock(deadline, tz),
                },
            )
        if ask_first:
            what = ctx.content.text("courses.what_waitlist" if live.status == "waitlisted" else "courses.what_seat")
            return Reply(
                "courses.cancel_confirm",
                {"title": cls.title, "when": fmt.when(cls.starts_at, cls.ends_at, tz), "what": what},
                buttons=[Button("确认取消", payload=f"取消报名#{class_id}")],
            )
        result = await signups.cancel(s, live.id, class_id, now)
        for promoted in result.promoted:  # told in the promotion's own transaction
            ctx.notify(promoted_notice(ctx, cls, promoted))
    await made_durable(ctx)
    if result.status != "cancelled":
        return Reply("courses.nothing_to_cancel", {"title": cls.title})
    if result.was == "waitlisted":
        return Reply("courses.cancelled_waiting", {"title": cls.title})
    return Reply("courses.cancelled", {"title": cls.title, "when": fmt.when(cls.starts_at, cls.ends_at, tz)})
