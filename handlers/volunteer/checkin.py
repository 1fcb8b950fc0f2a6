"""Check-in and check-out at the site: the shift's QR scene, or 「签到」/「签退」 with its short code.

A scan (or the code alone) checks in; the same again later checks out. Within ``REPEAT_GUARD``
of the check-in it is taken as a double scan and only confirms the check-in.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from bot.content import Content
from bot.context import Context
from bot.db.volunteer import checkins, checkouts, ledger
from bot.db.volunteer.checkins import Outcome, Result, Rules
from bot.db.volunteer.rules import format_distance, format_hours
from bot.model import Inbound, Kind, Reply
from bot.router import Router
from handlers.volunteer import format as fmt
from handlers.volunteer.find import VolunteerBrowse, utc
from handlers.volunteer.signups import VolunteerSignups

#: The QR scene of a shift: ``shift-<id>`` (``longtuan shifts qr``).
SCENE_PREFIX = "shift-"
#: A second scan this soon after the check-in is a double scan, not a check-out.
REPEAT_GUARD = timedelta(minutes=10)
_WORDS = re.compile(r"^(签到|签退)\s*[:：]?\s*(\d{6})?$")
_CODE = re.compile(r"^\d{6}$")
#: 「签到 ABC」「签到 12345」: a code that is neither a shift's (6 digits) nor a class's (YX and 4
#: digits, which the night school heard first): mistyped.
_MISTYPED = re.compile(r"^(签到|签退)[:：]?([A-Za-z0-9]{1,12})$")
_MY_FLOWS = frozenset(s.name for s in (VolunteerBrowse.listing, VolunteerBrowse.detail, VolunteerSignups.choosing))


def scene_of(shift_id: int) -> str:
    return f"{SCENE_PREFIX}{shift_id}"


class ShiftScene:
    """A follow or a scan of a shift's QR code; passes ``shift_id``."""

    kinds = frozenset({Kind.SUBSCRIBE, Kind.SCAN})

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        if not msg.key.startswith(SCENE_PREFIX):
            return False
        rest = msg.key[len(SCENE_PREFIX) :]
        return {"shift_id": int(rest)} if rest.isdigit() and len(rest) < 10 else False


class CheckWords:
    """「签到 381204」「签退」, or a shift code alone (outside other programmes' flows); passes
    ``verb`` ("in", "out" or "toggle") and ``code`` ("" when none was given)."""

    kinds = frozenset({Kind.TEXT, Kind.VOICE})

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        text = msg.text.strip().replace(" ", "")
        m = _WORDS.match(text)
        if m:
            return {"verb": "in" if m.group(1) == "签到" else "out", "code": m.group(2) or ""}
        state = ctx.session.state
        if _CODE.match(text) and (state is None or state in _MY_FLOWS):
            return {"verb": "toggle", "code": text}
        return False


class MistypedCode:
    """「签到 ABC」: 签到 or 签退 with something no code looks like; passes ``code``."""

    #: Judges by the message's kind and text alone (``bot.router``: a refusal holds for that text).
    by_text = True

    kinds = frozenset({Kind.TEXT, Kind.VOICE})

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        text = msg.text.strip().replace(" ", "")
        if _WORDS.match(text):
            return False
        m = _MISTYPED.match(text)
        return {"code": m.group(2)} if m else False


def rules(ctx: Context) -> Rules:
    st = ctx.settings
    return Rules(st.volunteer_checkin_opens, st.volunteer_half_hour_from, st.volunteer_full_hour_above, ctx.services.tz)


async def run(ctx: Context, msg: Inbound, verb: str, *, code: str = "", shift_id: int | None = None) -> Reply | None:
    """Check in or out; None when a bare code names no shift (it may mean something else)."""
    now, rule = utc(ctx), rules(ctx)
    fresh = now - timedelta(seconds=ctx.settings.volunteer_location_ttl)
    async with ctx.db() as s:
        arrival = await checkins.arrive(
            s, msg.channel, msg.user_id, now, code=code, shift_id=shift_id, location_since=fresh
        )
        shift, user_id = arrival.shift, arrival.user_id
        if shift is None and (shift_id is not None or code):
            if verb == "toggle":
                return None
            return Reply("volunteer.checkin_unknown", {"code": code or scene_of(shift_id or 0)})
        if verb == "out" or shift is None:
            result = await checkouts.check_out(s, user_id, now, shift=shift, rules=rule)
        else:
            via = "qr" if shift_id is not None else "code"
            result = await checkins.check_in(s, arrival, now, via=via, rules=rule)
            toggled = verb == "toggle" or shift_id is not None
            if toggled and result.outcome is Outcome.ALREADY_IN and result.at and now - result.at >= REPEAT_GUARD:
                result = await checkouts.check_out(s, user_id, now, shift=shift, rules=rule)
        total = await ledger.total_hours(s, user_id) if result.outcome is Outcome.CHECKED_OUT else None
    return answer(ctx, result, total)


def answer(ctx: Context, result: Result, total: Any = None) -> Reply:
    tz, content = ctx.services.tz, ctx.content
    shift = result.shift
    title = shift.title if shift else ""
    match result.outcome:
        case Outcome.CHECKED_IN if result.verified and result.at:
            return Reply(
                "volunteer.checked_in",
                {"title": title, "time": fmt.clock(result.at, tz), "distance": format_distance(result.distance_m or 0)},
            )
        case Outcome.CHECKED_IN:
            return Reply(
                "volunteer.checked_in_unverified", {"title": title, "time": fmt.clock(result.at or utc(ctx), tz)}
            )
        case Outcome.CHECKED_OUT if result.began and result.ended:
            # Nothing counted (under the rounding rule's first step): say why, not 「记 0 小时」.
            short = not result.hours and ctx.settings.volunteer_half_hour_from > 0
            return Reply(
                "volunteer.checked_out_short" if short else "volunteer.checked_out",
                {
                    "minutes": ctx.settings.volunteer_half_hour_from,
                    "title": title,
                    "start": fmt.clock(result.began, tz),
                    "end": fmt.clock(result.ended, tz),
                    "hours": format_hours(result.hours or 0),
                    "total": format_hours(total or 0),
                },
            )
        case Outcome.OTHER_DAY if shift:
            return Reply(
                "volunteer.checkin_other_day",
                {"day": fmt.day(content, shift.starts_at.astimezone(tz).date()), "title": title},
            )
        case Outcome.TOO_EARLY if shift:
            return Reply(
                "volunteer.checkin_too_early",
                {
                    "title": title,
                    "start": fmt.clock(shift.starts_at, tz),
                    "opens": fmt.clock(checkins.opens_at(shift, rules(ctx)), tz),
                },
            )
        case Outcome.ENDED:
            return Reply("volunteer.checkin_ended", {"title": title})
        case Outcome.ALREADY_IN:
            return Reply("volunteer.checkin_already", {"time": fmt.clock(result.at or utc(ctx), tz), "title": title})
        case Outcome.DONE:
            return Reply("volunteer.checkin_done", {"title": title})
        case Outcome.ELSEWHERE:
            return Reply("volunteer.checkin_elsewhere", {"other": result.other.title if result.other else ""})
        case Outcome.TOO_FAR if shift:
            return Reply(
                "volunteer.checkin_too_far",
                {"title": title, "distance": format_distance(result.distance_m or 0), "radius": shift.radius_m},
            )
        case Outcome.FULL:
            return Reply("volunteer.checkin_full", {"title": title})
        case Outcome.NOT_IN if result.other is not None:
            return Reply("volunteer.checkout_other", {"other": result.other.title})
    return Reply("volunteer.checkout_not_in")


def router(content: Content) -> Router:
    r = Router("volunteer.checkin")

    @r.on(ShiftScene())
    async def scanned(msg: Inbound, ctx: Context, shift_id: int) -> Reply | None:
        return await run(ctx, msg, "toggle", shift_id=shift_id)

    @r.on(MistypedCode())
    async def mistyped(msg: Inbound, ctx: Context, code: str) -> Reply:
        return Reply("volunteer.checkin_bad_code", {"code": code})

    @r.on(CheckWords())
    async def words(msg: Inbound, ctx: Context, verb: str, code: str) -> Reply | None:
        if verb == "in" and not code:
            return Reply("volunteer.checkin_how")
        return await run(ctx, msg, verb, code=code)

    return r
