"""志愿服务: find projects, sign up, check in and out, hours, star levels and perks."""

from __future__ import annotations

from bot.content import Content
from bot.context import Context
from bot.model import Inbound, Reply
from bot.router import Router
from bot.router.filters import Command
from bot.text import Analyzer
from handlers.volunteer import checkin, find, hours, register, signups

#: Every state of this programme's flows: 「取消」 in any of them ends it.
FLOWS = frozenset(
    s.name
    for s in (
        find.VolunteerBrowse.listing,
        find.VolunteerBrowse.detail,
        signups.VolunteerSignups.choosing,
        register.VolunteerRegister.name,
        register.VolunteerRegister.id_number,
    )
)


class InVolunteerFlow:
    def __call__(self, msg: Inbound, ctx: Context) -> bool:
        return ctx.session.state in FLOWS


def router(content: Content, analyzer: Analyzer) -> Router:
    r = Router("volunteer")
    cancel = Command(content.commands["cancel"])

    @r.on(InVolunteerFlow(), cancel)
    async def cancelled(msg: Inbound, ctx: Context) -> Reply:
        ctx.finish()
        return Reply("system.cancelled")

    # Order: a registration answer first (a name could look like anything), then the check-in
    # words and codes (a volunteer at the site may be browsing), then the lists' answers.
    r.include(register.router(content))
    r.include(checkin.router(content))
    r.include(hours.router(content))
    r.include(signups.router(content))
    r.include(find.router(content))
    return r
