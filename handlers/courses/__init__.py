"""青年夜校, the night school: browse classes, sign up (seat or waitlist), cancel, check in.

Routes in priority order: the profile flow's answers, check-in (QR scene, short code), the
tappable lines' payloads, the person's own signups, signing up by name or right after a class was
shown, a number or 「更多」 after a list, a theme, street or week named right after it, and
browsing last (「夜校有什么课」「摄影课」「这周的课」).
"""

from __future__ import annotations

from bot.content import Content
from bot.context import Context
from bot.model import Inbound, Reply
from bot.router import Router
from bot.router.filters import Command, HasText, InState, MenuKey
from bot.text import Analyzer
from handlers.courses import browse, checkin, mine, signup
from handlers.courses.intents import (
    Action,
    AfterList,
    Browse,
    CheckInCode,
    ClassScene,
    ListPick,
    MyClasses,
    NextPage,
    SignUpByName,
    SignUpHere,
    SignUpPick,
)
from handlers.courses.signup import CourseSignupFlow

MENU_KEY = "NIGHT_SCHOOL"


def router(content: Content, analyzer: Analyzer) -> Router:
    r = Router("courses")
    cancel = Command(content.commands["cancel"])
    for state in (CourseSignupFlow.name, CourseSignupFlow.mobile, CourseSignupFlow.street):
        r.on(InState(state), cancel)(signup.flow_cancelled)
    r.on(InState(CourseSignupFlow.name), HasText())(signup.got_name)
    r.on(InState(CourseSignupFlow.mobile), HasText())(signup.got_mobile)
    r.on(InState(CourseSignupFlow.street), HasText())(signup.got_street)

    r.on(Command(content.commands["courses_profile"]))(signup.edit_profile)

    r.on(ClassScene())(checkin.by_scene)
    r.on(CheckInCode())(checkin.by_code)

    @r.on(Action())
    async def action(msg: Inbound, ctx: Context, action: str, class_id: int) -> Reply:
        if action == "open":
            return await browse.show_class(msg, ctx, class_id)
        if action == "signup":
            return await signup.sign_up(msg, ctx, class_id)
        return await signup.cancel(msg, ctx, class_id)

    r.on(Command(content.commands["courses_mine"]))(mine.my_classes)
    r.on(MyClasses())(mine.my_classes)
    r.on(Command(content.commands["courses_cancel"]))(mine.cancel_which)
    r.on(SignUpHere())(signup.sign_up)
    r.on(SignUpPick())(signup.sign_up)

    @r.on(SignUpByName())
    async def by_name(msg: Inbound, ctx: Context, name: str) -> Reply:
        return await signup.sign_up_by_name(msg, ctx, name)

    r.on(ListPick())(browse.show_class)

    @r.on(NextPage())
    async def next_page(msg: Inbound, ctx: Context, listing: dict[str, object]) -> Reply:
        page = listing.get("page", 0)
        following = page + 1 if isinstance(page, int) else 0
        return await browse.show_list(msg, ctx, str(listing.get("q", "")), page=following)

    @r.on(MenuKey(MENU_KEY))
    async def menu(msg: Inbound, ctx: Context, key: str) -> Reply:
        return await browse.show_list(msg, ctx, "", intro=True)

    @r.on(AfterList())
    async def after_list(msg: Inbound, ctx: Context, query: str) -> Reply | None:
        # 「摄影」 after the list (its hint says 「摄影课」「坂田的课」): that theme's, street's or
        # week's classes. A word that names none of them (「设计」) is someone else's to answer.
        if not await browse.names_a_filter(ctx, query):
            return None
        return await browse.show_list(msg, ctx, query)

    @r.on(Browse())
    async def browsing(msg: Inbound, ctx: Context, query: str) -> Reply | None:
        # 「志愿者培训课」 is not for the night school: a long unknown topic outside 「夜校」 falls through.
        if not browse.names_classes(ctx, query):
            return None
        return await browse.show_list(msg, ctx, query)

    return r
