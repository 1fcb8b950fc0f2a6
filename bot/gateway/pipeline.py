"""The pipeline: de-duplicate -> lock -> session -> route -> reply, within the platform's deadline.

Order matters. The delivery is claimed (atomic SET NX) *before* anything runs, so a retry never
runs the handler twice; the user's lock is taken *before* the session is read, so two messages
of one user never interleave. A handler that outlives the deadline keeps running: the platform
gets an empty answer then and the user gets the reply through the ``Notifier`` when it is ready.
A retry of a finished delivery gets the cached answer; a retry of a running one waits for it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from bot.context import Context, Services
from bot.errors import LockTimeout, Unavailable
from bot.model import Inbound, Kind, Reply
from bot.outbound import Notice
from bot.router import Router
from bot.session.base import PENDING, Session, SessionKey
from bot.text import in_traditional, to_simplified

log = logging.getLogger("longtuan.pipeline")

#: How often a retry polls for the first delivery's answer.
_POLL = 0.05

#: Lock owner tokens: random per process, then counted (a token per message from the OS random
#: source was a system call on every message). Unique across processes and hosts all the same.
_OWNER_PREFIX = secrets.token_hex(6)
_owners = itertools.count(1)


@dataclass(slots=True)
class Outcome:
    """What to answer the platform now: ``body`` ("" means the platform's empty answer)."""

    body: str
    status: str  # replied | empty | deferred | duplicate | degraded
    route: str = ""


#: The channel's way of answering the platform: called once per delivery, as soon as the answer is
#: known, with the passive reply or, at the deadline, with the empty answer.
Answer = Callable[[Outcome], Awaitable[None]]


class _Deadline:
    """The platform's deadline for one delivery; when it passes first, the empty answer goes out.

    The handler runs in the request's own task (no task of its own per message: a third of the
    pipeline's cost). Only a delivery whose handler outlives the deadline gets a task, started by
    the timer, to give the platform its empty answer while the handler goes on.
    """

    __slots__ = ("answer", "passed", "task", "timer")

    def __init__(self, answer: Answer, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        self.answer = answer
        self.passed = False
        self.task: asyncio.Task[None] | None = None
        self.timer = loop.call_at(loop.time() + (deadline - time.monotonic()), self._pass)

    def _pass(self) -> None:
        self.passed = True
        self.task = asyncio.get_running_loop().create_task(_answer(self.answer, Outcome("", "deferred")))

    def cancel(self) -> bool:
        """Stop the clock; False when the deadline had already passed (the empty answer is out)."""
        self.timer.cancel()
        return not self.passed


async def _answer(answer: Answer, outcome: Outcome) -> None:
    try:
        await answer(outcome)
    except Exception:  # e.g. the platform hung up; the delivery is still finished
        log.warning("the answer could not be delivered", exc_info=True)


class Pipeline:
    def __init__(self, services: Services, router: Router) -> None:
        self.services = services
        self.router = router
        self._running: set[asyncio.Task[object]] = set()

    async def handle(
        self, msg: Inbound, render: Callable[[Reply], str], deadline: float, answer: Answer, request_id: str = ""
    ) -> Outcome:
        """Handle ``msg``: ``answer`` is awaited once, as soon as the platform's answer is known.

        ``deadline`` is a ``time.monotonic()`` instant; ``render`` makes the passive body. Returns
        after everything the delivery does: the answer, the stored result and session, a late
        reply through the notifier. The outcome returned is the one answered.
        """
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            return await self._handle(msg, render, deadline, answer, request_id)
        finally:
            if task is not None:
                self._running.discard(task)

    async def _handle(
        self, msg: Inbound, render: Callable[[Reply], str], deadline: float, answer: Answer, request_id: str
    ) -> Outcome:
        svc = self.services
        self._track(msg)
        dedupe = f"{msg.channel}:{msg.bot_id}:{msg.dedupe_key}"
        key = SessionKey(msg.channel, msg.bot_id, msg.user_id)
        owner = f"{_OWNER_PREFIX}{next(_owners):x}"
        try:
            while True:
                begin = await svc.store.begin(dedupe, key, owner)
                if not begin.duplicate:
                    break
                svc.metrics.duplicates.inc()
                first = await self._await_first(dedupe, begin.result, deadline)
                if first is not None:
                    outcome = Outcome(first, "duplicate")
                    await _answer(answer, outcome)
                    return outcome
                # The first delivery failed and dropped its claim: this retry handles it afresh.
            session = begin.session or Session()
            stateful = True
        except LockTimeout:
            # The user's previous message still runs: never run this one beside it (two messages of
            # one user must not interleave). The platform's retry will find the lock free.
            svc.metrics.lock_timeouts.inc()
            reply = svc.content.reply("system.busy")
            outcome = Outcome(render(reply), "busy", "busy")
            await _answer(answer, outcome)
            return outcome
        except Unavailable as exc:
            log.warning("store unavailable, answering without state", extra={"error": str(exc)})
            session, stateful = Session(persistent=False), False

        clock = _Deadline(answer, deadline)
        route, reply, notices = await self._run(msg, session, request_id)
        in_time = clock.cancel()
        body = "" if not in_time or reply.is_empty else render(reply)
        if in_time:
            status = ("empty" if reply.is_empty else "replied") if stateful else "degraded"
            outcome = Outcome(body, status, route)
            await _answer(answer, outcome)
        else:
            svc.metrics.deferred.inc()
            outcome = Outcome("", "deferred", route)
        if stateful:
            try:
                await svc.store.finish(dedupe, key, owner, session, body)
            except Unavailable:
                log.warning("session not saved: store unavailable")
        if not in_time:
            if not reply.is_empty:
                await self._send_late(msg, reply, dedupe)
            if clock.task is not None:
                await clock.task  # the empty answer is out before the request ends
        for notice in notices:
            await self._send(notice)
        return outcome

    def _track(self, msg: Inbound) -> None:
        users = self.services.users
        if msg.kind is Kind.SUBSCRIBE:
            users.touch(
                msg.channel, msg.user_id, msg.created_at or self.services.clock(), subscribed=True, scene=msg.key
            )
        elif msg.kind is Kind.UNSUBSCRIBE:
            users.touch(msg.channel, msg.user_id, msg.created_at or self.services.clock(), subscribed=False)
        elif msg.kind in (Kind.TEMPLATE_SENT, Kind.MASS_SENT, Kind.SUBSCRIBE_MSG_SENT):
            return  # delivery receipts are not the user doing anything
        else:
            users.touch(msg.channel, msg.user_id, self.services.clock())

    async def _await_first(self, dedupe: str, record: str | None, deadline: float) -> str | None:
        """The first delivery's answer; "" if it is still running at the deadline; None if it gave up."""
        store = self.services.store
        while record == PENDING:
            if time.monotonic() + _POLL >= deadline:
                return ""  # the first delivery will reply through the notifier; say nothing twice
            await asyncio.sleep(_POLL)
            record = await store.result(dedupe)
        return record

    async def _run(self, msg: Inbound, session: Session, request_id: str) -> tuple[str, Reply, list[Notice]]:
        """Route and run the handler; a failing handler is answered with the "busy" text.

        Returns the notices the handler queued: only a handler that returned sends them.
        """
        svc = self.services
        # Handlers match simplified Chinese; a traditional writer is marked and answered in traditional.
        hant = bool(msg.text) and to_simplified(msg.text) != msg.text
        if hant:
            msg = replace(msg, text=to_simplified(msg.text), extra={**msg.extra, "script": "hant"})
        ctx = Context.for_message(svc, session, msg, request_id)
        started = time.perf_counter()
        route = "none"
        try:
            found = await self.router.dispatch(msg, ctx)
            route, reply = found if found is not None else ("none", Reply.nothing())
            svc.content.render(reply)
            if session.expired is not None:
                notice = svc.content.text(session.expired.timeout_key)
                reply.text = f"{notice}\n\n{reply.text}" if reply.text else notice
            if hant:
                reply = in_traditional(reply)
        except Unavailable as exc:
            log.warning("handler could not reach a backend", extra={"route": route, "error": str(exc)})
            reply, route = svc.content.reply("system.busy"), "busy"
            ctx.notices.clear()
        except Exception:
            log.exception("handler failed", extra={"route": route})
            reply, route = svc.content.reply("system.busy"), "error"
            ctx.notices.clear()
        svc.metrics.child(svc.metrics.handler_seconds, route).observe(time.perf_counter() - started)
        return route, reply, ctx.notices

    async def _send_late(self, msg: Inbound, reply: Reply, dedupe: str) -> None:
        svc = self.services
        notice = Notice(msg.channel, msg.user_id, "late_reply", reply, key=f"late_reply:{dedupe}")
        try:
            result = await svc.notifier.send(notice)
        except Exception:
            svc.metrics.late_sends.labels("failed").inc()
            log.exception("late reply could not be sent")
            return
        svc.metrics.late_sends.labels("sent" if result.ok else "failed").inc()
        if not result.ok:
            log.warning("late reply not sent", extra={"status": result.status.value, "reason": result.reason})

    async def _send(self, notice: Notice) -> None:
        """A notice a handler queued (a waitlist promotion of someone else, say)."""
        try:
            result = await self.services.notify(notice)
        except Exception:
            log.exception("notice could not be sent", extra={"purpose": notice.purpose})
            return
        if not result.ok:
            log.info(
                "notice not sent",
                extra={"purpose": notice.purpose, "status": result.status.value, "reason": result.reason},
            )

    async def drain(self, grace: float = 10.0) -> None:
        """Wait up to ``grace`` seconds for deliveries still running (late replies) before shutting down."""
        running = self._running - {asyncio.current_task()}
        if running:
            await asyncio.wait(running, timeout=grace)
