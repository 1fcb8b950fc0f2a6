"""The pipeline: de-duplicate -> lock -> session -> route -> reply, within the platform's deadline.

Order matters. The delivery is claimed (atomic SET NX) *before* anything runs, so a retry never
runs the handler twice; the user's lock is taken *before* the session is read, so two messages
of one user never interleave, and when the lock cannot be had in time the user hears "busy" and
nothing runs. A handler that outlives the deadline keeps running: the platform gets an empty
answer then and the user gets the reply through the ``Notifier`` when it is ready. A retry of a
finished delivery gets the same neutral reply, rendered again by the channel; a retry of a
running one waits for it.

The pipeline never holds channel bytes: the channel hands it an ``Inbound`` and a ``Responder``,
and gets neutral ``Reply`` objects back through it.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import secrets
import time
from dataclasses import dataclass, replace
from typing import Protocol

from bot.context import Context, Services
from bot.errors import LockTimeout, Unavailable
from bot.gateway.flows import FlowGuard
from bot.model import Inbound, Kind, Reply
from bot.outbound import Notice
from bot.router import Router
from bot.session.base import PENDING, Session, SessionKey
from bot.text import in_traditional, to_simplified, to_traditional

log = logging.getLogger("longtuan.pipeline")

#: How often a retry polls for the first delivery's answer.
_POLL = 0.05

#: Lock owner tokens: random per process, then counted (a token per message from the OS random
#: source was a system call on every message). Unique across processes and hosts all the same.
_OWNER_PREFIX = secrets.token_hex(6)
_owners = itertools.count(1)


class Responder(Protocol):
    """The channel's answer to the platform for one delivery, called once, as soon as it is known.

    ``reply`` is the rendered neutral reply, or None for the platform's empty answer; ``at`` is
    the reply's creation time (the same for the first answer and every retry).
    """

    async def answer(self, reply: Reply | None, at: int, status: str) -> None: ...


@dataclass(slots=True)
class Outcome:
    """What was answered: ``status`` is replied | empty | deferred | duplicate | degraded | busy."""

    status: str
    route: str = ""
    reply: Reply | None = None


def _record(reply: Reply, at: int) -> str:
    """The retry cache's record of a delivery: its creation time and the neutral reply ("" if empty)."""
    return "" if reply.is_empty else f"{at}|{reply.dumps()}"


def _from_record(record: str) -> tuple[Reply | None, int]:
    if not record:
        return None, 0
    at, _, blob = record.partition("|")
    return Reply.loads(blob), int(at)


class _Deadline:
    """The platform's deadline for one delivery; when it passes first, the empty answer goes out.

    The handler runs in the request's own task (no task of its own per message: a third of the
    pipeline's cost). Only a delivery whose handler outlives the deadline gets a task, started by
    ``_Watch``, to give the platform its empty answer while the handler goes on.
    """

    __slots__ = ("at", "done", "passed", "responder", "task", "timer")

    def __init__(self, responder: Responder, at: float) -> None:
        self.responder = responder
        self.at = at
        self.done = False
        self.passed = False
        self.task: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None

    def _pass(self) -> None:
        self.passed = self.done = True
        self.task = asyncio.get_running_loop().create_task(_answer(self.responder, None, 0, "deferred"))

    def cancel(self) -> bool:
        """Stop the clock; False when the deadline had already passed (the empty answer is out)."""
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
        if not self.passed:
            self.responder = None  # type: ignore[assignment]  # the request is not kept while the clock waits in line
        return not self.passed


class _Watch:
    """One timer for the deadlines of all deliveries in flight, not a timer each (a timer and its
    cancellation cost about 5 us of a message here). Deadlines come in the order they fall (each
    is the same time after its delivery began), so they wait in arrival order and one timer, set
    for the first, fires for every deadline passed, at most ``SLACK`` late; one that would fall
    before a deadline already waiting gets a timer of its own."""

    SLACK = 0.01

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.waiting: collections.deque[_Deadline] = collections.deque()
        self.timer: asyncio.TimerHandle | None = None

    def start(self, responder: Responder, deadline: float) -> _Deadline:
        """The clock of a delivery whose platform deadline is ``deadline`` (a ``time.monotonic()`` instant)."""
        loop = asyncio.get_running_loop()
        if loop is not self.loop:  # a new event loop (tests): nothing of the old one stays
            self.loop, self.waiting, self.timer = loop, collections.deque(), None
        clock = _Deadline(responder, loop.time() + (deadline - time.monotonic()))
        waiting = self.waiting
        while waiting and waiting[0].done:  # answered in time: the line holds only deliveries in flight
            waiting.popleft()
        if waiting and clock.at < waiting[-1].at:
            clock.timer = loop.call_at(clock.at, clock._pass)
            return clock
        waiting.append(clock)
        if self.timer is None:
            self.timer = loop.call_at(clock.at, self._fire)
        return clock

    def _fire(self) -> None:
        assert self.loop is not None
        self.timer = None
        now = self.loop.time()
        waiting = self.waiting
        while waiting and (waiting[0].done or waiting[0].at <= now):
            clock = waiting.popleft()
            if not clock.done:
                clock._pass()
        if waiting:
            self.timer = self.loop.call_at(max(waiting[0].at, now + self.SLACK), self._fire)


async def _answer(responder: Responder, reply: Reply | None, at: int, status: str) -> None:
    try:
        await responder.answer(reply, at, status)
    except Exception:  # e.g. the platform hung up; the delivery is still finished
        log.warning("the answer could not be delivered", exc_info=True)


def _writes_traditional(text: str, before: bool) -> bool:
    """Whether to answer in traditional: the script this text is written in, else the one before.

    A text with traditional characters says traditional, one with characters only simplified
    writes says simplified; digits, English, an event, or characters both scripts share (「好」,
    a name) say nothing, and the conversation keeps the script it had: a traditional writer who
    picks 「4」 from a list is answered in traditional.
    """
    if not text or text.isascii():
        return before
    if to_simplified(text) != text:
        return True
    # Only someone marked traditional pays for the second conversion.
    return before and to_traditional(text) == text


class Pipeline:
    def __init__(self, services: Services, router: Router) -> None:
        self.services = services
        self.router = router
        self.flows = FlowGuard(services)
        self._watch = _Watch()
        self._running: set[asyncio.Task[object]] = set()

    async def handle(self, msg: Inbound, responder: Responder, deadline: float, request_id: str = "") -> Outcome:
        """Handle ``msg``: ``responder`` is awaited once, as soon as the platform's answer is known.

        ``deadline`` is a ``time.monotonic()`` instant. Returns after everything the delivery does:
        the answer, the stored result and session, a late reply through the notifier.
        """
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            return await self._handle(msg, responder, deadline, request_id)
        finally:
            if task is not None:
                self._running.discard(task)

    async def _handle(self, msg: Inbound, responder: Responder, deadline: float, request_id: str) -> Outcome:
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
                    reply, at = _from_record(first)
                    await _answer(responder, reply, at, "duplicate")
                    return Outcome("duplicate", reply=reply)
                # The first delivery failed and dropped its claim: this retry handles it afresh.
            session = begin.session or Session()
            stateful = True
        except LockTimeout:
            # The user's previous message still runs: never run this one beside it (two messages of
            # one user must not interleave). The claim is dropped, so the platform's retry is handled.
            svc.metrics.lock_timeouts.inc()
            reply = svc.content.reply("system.busy")
            await _answer(responder, reply, int(svc.clock()), "busy")
            return Outcome("busy", "busy", reply)
        except Unavailable as exc:
            log.warning("store unavailable, answering without state", extra={"error": str(exc)})
            session, stateful = Session(persistent=False), False

        clock = self._watch.start(responder, deadline)
        route, reply, notices = await self._run(msg, session, request_id)
        at = int(svc.clock())
        in_time = clock.cancel()
        if in_time:
            status = ("empty" if reply.is_empty else "replied") if stateful else "degraded"
            await _answer(responder, None if reply.is_empty else reply, at, status)
        else:
            svc.metrics.deferred.inc()
            status = "deferred"
        if stateful:
            try:
                kept = await svc.store.finish(dedupe, key, owner, session, _record(reply, at) if in_time else "")
            except Unavailable:
                log.warning("session not saved: store unavailable")
            else:
                if not kept:
                    # The lock lapsed while the handler ran and another message took it: that
                    # message owns the session now, and this one's changes to it are dropped.
                    svc.metrics.locks_lost.inc()
                    log.warning("conversation lock lost before the message finished", extra={"route": route})
                await self.flows.track(key, session)
        if not in_time:
            if not reply.is_empty:
                await self._send_late(msg, reply, dedupe)
            if clock.task is not None:
                await clock.task  # the empty answer is out before the request ends
        for notice in notices:
            await self._send(notice)
        return Outcome(status, route, reply)

    def _track(self, msg: Inbound) -> None:
        users = self.services.users
        if msg.kind is Kind.SUBSCRIBE:
            users.touch(
                msg.channel, msg.user_id, msg.created_at or self.services.clock(), subscribed=True, scene=msg.key
            )
        elif msg.kind is Kind.UNSUBSCRIBE:
            users.touch(msg.channel, msg.user_id, msg.created_at or self.services.clock(), subscribed=False)
        else:
            users.touch(msg.channel, msg.user_id, self.services.clock())

    async def _await_first(self, dedupe: str, record: str | None, deadline: float) -> str | None:
        """The first delivery's record; "" if it is still running at the deadline; None if it gave up."""
        store = self.services.store
        while record == PENDING:
            if time.monotonic() + _POLL >= deadline:
                return ""  # the first delivery will reply through the notifier; say nothing twice
            await asyncio.sleep(_POLL)
            record = await store.result(dedupe)
        return record

    async def _run(self, msg: Inbound, session: Session, request_id: str) -> tuple[str, Reply, list[Notice]]:
        """Route and run the handler; a failing handler is answered with the "busy" text.

        Returns the notices the handler queued that its transactions did not put in the outbox
        (``Context.db``): only a handler that returned sends them.
        """
        svc = self.services
        # Handlers match simplified Chinese; a traditional writer is marked and answered in traditional.
        hant = _writes_traditional(msg.text, session.script == "hant")
        session.set_script("hant" if hant else "")
        if hant:
            msg = replace(msg, text=to_simplified(msg.text), extra={**msg.extra, "script": "hant"})
        ctx = Context.for_message(svc, session, msg, request_id)
        started = time.perf_counter()
        route = "none"
        try:
            reply, route = await self.flows.run(msg, ctx, self.router)
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
        svc.metrics.late_sends.labels(result.status.value if result.ok else "failed").inc()  # sent | queued
        if not result.ok:
            log.warning("late reply not sent", extra={"status": result.status.value, "reason": result.reason})

    async def _send(self, notice: Notice) -> None:
        """A notice a handler queued (a waitlist promotion of someone else, say), without the outbox
        or outside a transaction: it goes out (or into the outbox) after the handler's commits."""
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
