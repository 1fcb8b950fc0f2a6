"""The pipeline: de-duplicate -> lock -> session -> route -> reply, within the platform's deadline.

Order matters. The delivery is claimed (atomic SET NX) *before* anything runs, so a retry never
runs the handler twice; the user's lock is taken *before* the session is read, so two messages
of one user never interleave. A handler that outlives the deadline keeps running: the platform
gets an empty answer now and the user gets the reply through the ``Notifier`` when it is ready.
A retry of a finished delivery gets the cached answer; a retry of a running one waits for it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.context import Context, Services
from bot.errors import Unavailable
from bot.model import Inbound, Kind, Reply
from bot.router import Router
from bot.session.base import PENDING, Session, SessionKey

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


@dataclass(slots=True)
class _Race:
    """The handler against the deadline; one event loop, so whoever resolves ``ready`` first wins.

    The handler resolves it with (route, reply, rendered body), rendered once so the first
    answer and the cached one are the same bytes; the deadline timer resolves it with None and
    the handler, finding it resolved, sends its reply later instead. A plain timer is used
    rather than ``wait_for(shield(...))``: a third of the cost, on every message.
    """

    ready: asyncio.Future[tuple[str, Reply, str] | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    @property
    def deferred(self) -> bool:
        return self.ready.done() and self.ready.result() is None

    def expire(self) -> None:
        if not self.ready.done():
            self.ready.set_result(None)


class Pipeline:
    def __init__(self, services: Services, router: Router) -> None:
        self.services = services
        self.router = router
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle(
        self, msg: Inbound, render: Callable[[Reply], str], deadline: float, request_id: str = ""
    ) -> Outcome:
        """Answer ``msg``; ``deadline`` is a ``time.monotonic()`` instant; ``render`` makes the passive body."""
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
                answer = await self._await_first(dedupe, begin.result, deadline)
                if answer is not None:
                    return Outcome(answer, "duplicate")
                # The first delivery failed and dropped its claim: this retry handles it afresh.
            session = begin.session or Session()
            stateful = True
        except Unavailable as exc:
            log.warning("store unavailable, answering without state", extra={"error": str(exc)})
            session, stateful, dedupe = Session(persistent=False), False, ""

        race = _Race()
        task = asyncio.create_task(
            self._run(msg, key, owner, dedupe if stateful else None, session, render, race, request_id)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        loop = asyncio.get_running_loop()
        timer = loop.call_at(loop.time() + (deadline - time.monotonic()), race.expire)
        outcome = await race.ready
        timer.cancel()
        if outcome is None:
            svc.metrics.deferred.inc()
            return Outcome("", "deferred")
        route, reply, body = outcome
        if reply.is_empty:
            return Outcome("", "empty" if stateful else "degraded", route)
        return Outcome(body, "replied" if stateful else "degraded", route)

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

    async def _run(
        self,
        msg: Inbound,
        key: SessionKey,
        owner: str,
        dedupe: str | None,
        session: Session,
        render: Callable[[Reply], str],
        race: _Race,
        request_id: str,
    ) -> None:
        svc = self.services
        ctx = Context(services=svc, session=session, request_id=request_id)
        started = time.perf_counter()
        route = "none"
        try:
            found = await self.router.dispatch(msg, ctx)
            route, reply = found if found is not None else ("none", Reply.nothing())
            svc.content.render(reply)
            if session.expired is not None:
                notice = svc.content.text(session.expired.timeout_key)
                reply.text = f"{notice}\n\n{reply.text}" if reply.text else notice
        except Unavailable as exc:
            log.warning("handler could not reach a backend", extra={"route": route, "error": str(exc)})
            reply, route = svc.content.reply("system.busy"), "busy"
        except Exception:
            log.exception("handler failed", extra={"route": route})
            reply, route = svc.content.reply("system.busy"), "error"
        svc.metrics.child(svc.metrics.handler_seconds, route).observe(time.perf_counter() - started)

        deferred = race.deferred
        body = "" if deferred or reply.is_empty else render(reply)
        if not deferred:
            race.ready.set_result((route, reply, body))
        if dedupe is not None:
            try:
                await svc.store.finish(dedupe, key, owner, session, body)
            except Unavailable:
                log.warning("session not saved: store unavailable")
        if deferred and not reply.is_empty:
            try:
                await svc.notifier.send(msg.channel, msg.user_id, reply)
                svc.metrics.late_sends.labels("sent").inc()
            except Exception:
                svc.metrics.late_sends.labels("failed").inc()
                log.exception("late reply could not be sent")

    async def drain(self, grace: float = 10.0) -> None:
        """Wait up to ``grace`` seconds for handlers still running (late replies) before shutting down."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
