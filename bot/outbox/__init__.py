"""The delivery engine behind the outbound port: a transactional outbox, its workers and campaigns.

``enqueue(session, notice, now)`` queues a notice inside the caller's own transaction (nothing
goes out for a change that rolls back, nothing is lost for one that commits). ``OutboxNotifier``
is both the ``Queue`` that does it for ``Services`` (``ctx.db()`` and ``svc.unit()`` queue what
was notified inside them, before their commit) and the ``Notifier`` that does it in a transaction
of its own for a notice tied to no change (a late reply), answering ``QUEUED``.
``longtuan worker`` (``bot.outbox.worker``), or the one inside ``longtuan serve``, sends what is due.
``build_outbox`` is what ``bot.services`` uses when ``LONGTUAN_OUTBOX`` is on (the default).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.wechat.api import WeChatAPI
from bot.db import Database
from bot.db.delivery.outbox import enqueue
from bot.errors import Unavailable
from bot.metrics import Metrics
from bot.notifier import WeChatNotifier
from bot.outbound import Notice, Notifier, SendResult, Status
from bot.outbox.metrics import Snapshot, refreshing
from bot.settings import Settings

__all__ = ["LATE_REPLY", "OutboxNotifier", "build_outbox", "enqueue"]

log = logging.getLogger("longtuan.outbox")

#: The gateway's 5-second fallback: the recipient wrote just now, so their window is open.
LATE_REPLY = "late_reply"


class OutboxNotifier:
    """Queues each notice in the outbox for the workers; answers ``QUEUED``.

    ``queue`` does it in the caller's transaction; ``send`` in one of its own. With the database
    down, ``send`` still delivers a late reply directly through ``fallback`` (the user is waiting
    for it, and its window is open); any other notice answers ``RETRY``.
    """

    def __init__(self, db: Database, clock: Callable[[], float] = time.time, fallback: Notifier | None = None) -> None:
        self._db = db
        self._clock = clock
        self._fallback = fallback

    async def queue(self, session: AsyncSession, notice: Notice) -> SendResult:
        if not notice.reply.text:
            return SendResult(Status.DROPPED, "empty")
        queued = await enqueue(session, notice, self._clock(), seen=notice.purpose == LATE_REPLY)
        return SendResult(Status.QUEUED, "" if queued is not None else "already_queued")

    async def send(self, notice: Notice) -> SendResult:
        if not notice.reply.text:
            return SendResult(Status.DROPPED, "empty")
        try:
            async with self._db.session() as s:
                return await self.queue(s, notice)
        except Unavailable:
            if self._fallback is not None and notice.purpose == LATE_REPLY:
                return await self._fallback.send(notice)
            return SendResult(Status.RETRY, "database_unavailable", self._clock() + 30)


async def build_outbox(
    stack: AsyncExitStack,
    settings: Settings,
    db: Database,
    api: WeChatAPI,
    metrics: Metrics,
    clock: Callable[[], float] = time.time,
    *,
    worker: bool = False,
) -> OutboxNotifier:
    """The outbox for WeChat notices; its depth and quota gauges join this process's /metrics.

    ``worker``: one delivery worker runs in this process too, until ``stack`` closes.
    """
    snapshot = Snapshot(settings.outbox_template_daily)
    metrics.register_live(snapshot)
    await stack.enter_async_context(refreshing(snapshot, db, clock, ZoneInfo(settings.timezone)))
    if worker:
        from bot.outbox.worker import in_process  # the engine's modules import this package

        await stack.enter_async_context(in_process(settings, metrics.registry, snapshot, clock))
    return OutboxNotifier(db, clock, WeChatNotifier(api, clock))
