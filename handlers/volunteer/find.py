"""Finding projects: the menu, searches by street, date or distance, a paged list and the detail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.content import Content
from bot.context import Context
from bot.db.users import ensure_user
from bot.db.volunteer import projects
from bot.db.volunteer.ledger import user_id_of
from bot.db.volunteer.rules import format_distance
from bot.errors import Unavailable
from bot.model import Inbound, Kind, Reply
from bot.router import Router
from bot.router.filters import Command, HasText, InState, Kinds, MenuKey
from bot.session.base import State, StatesGroup
from handlers.volunteer import format as fmt
from handlers.volunteer import query

PAGE = 5


class VolunteerBrowse(StatesGroup):
    title_key = "flows.volunteer_browse"
    quiet = True
    #: data: items ([project id, line] pairs), page, heading
    listing = State()
    #: data: project, shifts (ids in the order shown)
    detail = State()


def utc(ctx: Context) -> datetime:
    return datetime.fromtimestamp(ctx.now(), UTC)


class Search:
    """Text that asks for projects (「周末的志愿活动」); passes ``q``."""

    #: Judges by the message's kind and text alone (``bot.router``: a refusal holds for that text).
    by_text = True

    kinds = frozenset({Kind.TEXT, Kind.VOICE})

    def __init__(self, streets: list[str]) -> None:
        self.streets = streets

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        if not msg.text:
            return False
        q = query.parse(msg.text, self.streets, ctx.local_now)
        return {"q": q} if q else False


def _line(content: Content, ctx: Context, hit: projects.Hit) -> str:
    if hit.next_start <= ctx.local_now():
        when = content.text("volunteer.under_way")
    else:
        when = fmt.day(content, hit.next_start.astimezone(ctx.services.tz).date()) + fmt.clock(
            hit.next_start, ctx.services.tz
        )
    if hit.distance_m is not None:
        return content.text(
            "volunteer.item_near", n="{n}", title=hit.title, distance=format_distance(hit.distance_m), when=when
        )
    return content.text("volunteer.item", n="{n}", title=hit.title, street=hit.street, when=when)


def show_page(ctx: Context, items: list[list[Any]], page: int, heading: str, key: str = "volunteer.list") -> Reply:
    """Page ``page`` of the list; enters the listing state so a number opens a project."""
    chunk = items[page * PAGE : (page + 1) * PAGE]
    lines = [str(line).replace("{n}", str(page * PAGE + i + 1), 1) for i, (_, line) in enumerate(chunk)]
    more = ctx.content.text("volunteer.more_hint") if len(items) > (page + 1) * PAGE else ""
    ctx.enter(VolunteerBrowse.listing, items=items, page=page, heading=heading)
    if key == "volunteer.menu":
        return Reply("volunteer.menu", {"heading": heading, "items": fmt.numbered(lines), "more": more})
    return Reply("volunteer.list", {"heading": heading, "items": fmt.numbered(lines), "more": more})


def listing(ctx: Context, hits: list[projects.Hit], heading: str, key: str = "volunteer.list") -> Reply:
    if not hits:
        ctx.finish()
        if key == "volunteer.menu":
            return Reply("volunteer.menu_empty")
        return Reply("volunteer.none_found", {"heading": heading})
    items = [[h.project_id, _line(ctx.content, ctx, h)] for h in hits]
    return show_page(ctx, items, 0, heading, key)


async def nearby_list(ctx: Context, lat: float, lng: float) -> Reply:
    now = utc(ctx)
    radius = ctx.settings.volunteer_nearby_km * 1000
    async with ctx.db() as s:
        hits = await projects.nearby(s, lat, lng, radius, since=now, until=now + timedelta(days=query.DEFAULT_DAYS))
    return listing(ctx, hits, ctx.content.text("volunteer.heading_nearby"))


def _shift_lines(ctx: Context, view: projects.ProjectView) -> str:
    lines = []
    for i, sh in enumerate(view.shifts, start=1):
        when = fmt.span(ctx.content, sh.starts_at, sh.ends_at, ctx.services.tz)
        if sh.seats_left > 0:
            lines.append(ctx.content.text("volunteer.shift_line", n=i, when=when, left=sh.seats_left))
        else:
            lines.append(ctx.content.text("volunteer.shift_line_full", n=i, when=when))
    return "\n".join(lines)


async def show_detail(ctx: Context, project_id: int) -> Reply:
    async with ctx.db() as s:
        view = await projects.detail(s, project_id, utc(ctx))
    if view is None:
        ctx.finish()
        return Reply("volunteer.bad_choice")
    common = {"title": view.title, "team": view.team, "place": view.place, "street": view.street}
    if not view.shifts:
        return Reply("volunteer.detail_no_shifts", {**common, "summary": view.summary})
    ctx.enter(VolunteerBrowse.detail, project=view.id, shifts=[sh.id for sh in view.shifts])
    return Reply(
        "volunteer.detail",
        {
            **common,
            "summary": view.summary,
            "shifts": _shift_lines(ctx, view),
            "bring": view.bring or ctx.content.text("volunteer.bring_nothing"),
        },
    )


def _number(text: str) -> int | None:
    norm = text.strip().removeprefix("第").removesuffix("个").strip()
    return int(norm) if norm.isdigit() and len(norm) <= 2 else None


def router(content: Content) -> Router:
    r = Router("volunteer.find")
    more = Command(content.commands["more"])

    @r.on(InState(VolunteerBrowse.listing), more)
    async def next_page(msg: Inbound, ctx: Context) -> Reply:
        items, page = ctx.data.get("items", []), int(ctx.data.get("page", 0)) + 1
        if page * PAGE >= len(items):
            return Reply("volunteer.no_more")
        return show_page(ctx, items, page, str(ctx.data.get("heading", "")))

    @r.on(InState(VolunteerBrowse.listing), HasText())
    async def picked(msg: Inbound, ctx: Context, text: str) -> Reply | None:
        n = _number(text)
        items = ctx.data.get("items", [])
        if n is None:
            return None  # not an answer to the list: let the other routes have it
        if not 1 <= n <= len(items):
            return Reply("volunteer.bad_choice")
        return await show_detail(ctx, int(items[n - 1][0]))

    @r.on(MenuKey("VOLUNTEER"))
    async def menu(msg: Inbound, ctx: Context, key: str) -> Reply:
        now = utc(ctx)
        until = now + timedelta(days=query.DEFAULT_DAYS)
        user = await ctx.users.get(msg.channel, msg.user_id)
        street = user.street if user is not None and user.street else None
        async with ctx.db() as s:
            hits = await projects.search(s, since=now, until=until, street=street) if street else []
            heading = content.text("volunteer.heading_street", street=street) if hits else ""
            if not hits:
                hits = await projects.search(s, since=now, until=until)
                heading = content.text("volunteer.heading_all")
        return listing(ctx, hits, heading, "volunteer.menu")

    @r.on(Kinds(Kind.LOCATION))
    async def location(msg: Inbound, ctx: Context) -> Reply | None:
        if msg.location is None:
            return None
        async with ctx.db() as s:
            user_id = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
            await projects.save_location(s, user_id, msg.location.latitude, msg.location.longitude, utc(ctx))
        return await nearby_list(ctx, msg.location.latitude, msg.location.longitude)

    @r.on(Kinds(Kind.REPORT_LOCATION))
    async def reported(msg: Inbound, ctx: Context) -> Reply:
        # Sent every few seconds while the chat is open: kept for check-ins, never answered.
        if msg.location is not None:
            try:
                async with ctx.db() as s:
                    user_id = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
                    await projects.save_location(s, user_id, msg.location.latitude, msg.location.longitude, utc(ctx))
            except Unavailable:
                pass  # nobody asked anything: no "busy" for a report the next one replaces
        return Reply.nothing()

    @r.on(Search(content.streets))
    async def search(msg: Inbound, ctx: Context, q: query.Query) -> Reply:
        since, until = q.since.astimezone(UTC), q.until.astimezone(UTC)
        if q.nearby:
            async with ctx.db() as s:
                user_id = await user_id_of(s, msg.channel, msg.user_id)
                fresh = utc(ctx) - timedelta(seconds=ctx.settings.volunteer_location_ttl)
                here = await projects.recent_location(s, user_id, fresh) if user_id else None
            if here is None:
                return Reply("volunteer.ask_location")
            return await nearby_list(ctx, *here)
        async with ctx.db() as s:
            hits = await projects.search(s, since=since, until=until, street=q.street)
        if q.street:
            heading = content.text("volunteer.heading_street", street=q.street)
        elif q.when:
            heading = content.text("volunteer.heading_when", when=q.when)
        else:
            heading = content.text("volunteer.heading_all")
        return listing(ctx, hits, heading)

    return r
