"""Flows around the router: escape words, paging, time-outs and their clean-ups.

While a flow waits for an answer its own routes come first (``Router.routes_for``), but a few
words always work: 「取消」 ends the flow (running its clean-up) unless the flow answers it with
a command route of its own, a menu click leaves it, and
help / 菜单 answer as anywhere else and leave it paused, with a line that says so. A question the flow cannot
take (its handler returns None) reaches the other routes the same way, so nobody is trapped
in a flow. 「更多」 sends the payload of the last reply's next page.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from bot.context import Context, Services
from bot.errors import LockTimeout, Unavailable
from bot.model import Inbound, Kind, Reply
from bot.router import Router
from bot.router.filters import Command
from bot.session.base import SessionKey, StatesGroup

log = logging.getLogger("longtuan.flows")


class FlowGuard:
    def __init__(self, services: Services) -> None:
        self.services = services
        commands = services.content.commands
        self.cancel = Command(commands["cancel"])
        self.more = Command(commands.get("more", ["更多"]))
        #: Help and menu words answer as they do anywhere, the flow waiting meanwhile.
        self.help = Command(commands["help"])

    def _title(self, group: type[StatesGroup]) -> str:
        return self.services.content.text(group.title_key)

    async def run(self, msg: Inbound, ctx: Context, router: Router) -> tuple[Reply, str]:
        """Route ``msg`` inside or around the conversation's flow; returns the rendered reply and route."""
        content = self.services.content
        session = ctx.session
        before: list[str] = []
        if session.expired is not None:
            expired = session.expired.group
            if expired is not None:
                await self._cleanup(expired, ctx.channel, msg.bot_id, ctx.user_id, session.expired_data, "timeout")
            # A list looked at a while ago (a quiet flow) lapses without a word: "cancelled for
            # you" would name an operation nobody started.
            if expired is None or not expired.quiet:
                before.append(content.text(session.expired.timeout_key))
        if session.more and self.more(msg, ctx):
            msg.text = session.more  # the next page, as if the user had asked for it
        state = session.state
        group = session.group
        if group is not None:
            if self.cancel(msg, ctx) and not router.flow_takes(msg, ctx):
                await self._cleanup(group, ctx.channel, msg.bot_id, ctx.user_id, dict(session.data), "cancelled")
                session.clear()
                return content.reply("system.cancelled"), "flows.cancelled"
            if msg.kind is Kind.CLICK:
                await self._cleanup(group, ctx.channel, msg.bot_id, ctx.user_id, dict(session.data), "left")
                session.clear()
                if not group.quiet:
                    before.append(content.text("system.flow_left", flow=self._title(group)))
                group = None
        # Help inside a flow is answered as anywhere, unless the flow has a help route of its own.
        outside = group is not None and self.help(msg, ctx) and not router.flow_takes(msg, ctx)
        found = await router.dispatch(msg, ctx, flow=not outside)
        if found is None:
            reply, name = Reply.nothing(), "none"
        else:
            route, reply = found
            reply, name = content.render(reply), route.name
            waiting = state not in route.states and session.state == state and not reply.is_empty
            if group is not None and not group.quiet and waiting:
                # Help, the menu or a question answered while the flow waits: it is still waiting.
                note = content.text("system.flow_paused", flow=self._title(group))
                reply = reply.with_text(f"{reply.text}\n\n{note}")
        if before and not reply.is_empty:
            reply = reply.with_text("\n\n".join([*before, reply.text]))
        elif before:
            reply = Reply(text="\n\n".join(before))
        session.set_more(reply.more)
        return reply, name

    async def _cleanup(
        self, group: type[StatesGroup], channel: str, bot: str, user: str, data: dict[str, Any], reason: str
    ) -> None:
        if group.cleanup is None:
            return
        await group.cleanup(self.services, SessionKey(channel, bot, user), data, reason)

    async def track(self, key: SessionKey, session: Any) -> None:
        """Keep the clean-up job's list of waiting flows that have a clean-up up to date.

        Only a conversation read in a flow with a clean-up can be on that list, so a session
        changed outside one (results kept for browsing, a next page) costs no round trip here."""
        if not session.changed:
            return
        group = session.group
        was = StatesGroup.of(session.loaded_state)
        try:
            if group is not None and group.cleanup is not None and session.expires_at is not None:
                await self.services.store.track_flow(key, session.expires_at)
            elif was is not None and was.cleanup is not None:
                await self.services.store.track_flow(key, None)
        except Unavailable:
            log.warning("flow time-out not tracked: store unavailable")


async def expire_flows(svc: Services) -> int:
    """Job: run the clean-up of every tracked flow that timed out with its user gone; safe to run twice.

    Each conversation is taken under its lock, as a message would be, so a user answering at the
    same moment is never cleaned up under. The user is told when they next write.
    """
    done = 0
    for key in await svc.store.due_flows(svc.clock()):
        owner = f"flows-{secrets.token_hex(6)}"
        try:
            begin = await svc.store.begin(None, key, owner)
        except LockTimeout:
            continue  # the user is writing right now: their message runs the clean-up
        session = begin.session
        try:
            expired = session.expired if session is not None else None
            if session is not None and expired is not None and expired.group is not None:
                cleanup = expired.group.cleanup
                if cleanup is not None:
                    await cleanup(svc, key, session.expired_data, "timeout")
                    done += 1
                # Left as stored: the user still hears of the time-out when they next write.
                session.changed = False
        finally:
            if session is not None:
                await svc.store.finish(None, key, owner, session, "")
        # A flow entered again since is tracked under its new time-out, so it is not due here.
        await svc.store.track_flow(key, None)
    return done
