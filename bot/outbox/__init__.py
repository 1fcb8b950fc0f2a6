"""The delivery engine behind the outbound port: a transactional outbox, its workers and campaigns.

``enqueue(session, notice, now)`` queues a notice inside the caller's own transaction (nothing
goes out for a change that rolls back, nothing is lost for one that commits); ``OutboxNotifier``
is the ``Notifier`` that does the same in a transaction of its own and answers ``QUEUED``.
``longtuan worker`` (``bot.outbox.worker``) sends what is due, within WeChat's rules.
``build_notifier`` is what ``bot.services`` uses when ``LONGTUAN_OUTBOX=true``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from zoneinfo import ZoneInfo

from bot.channels.wechat.api import WeChatAPI
from bot.db import Database
from bot.db.delivery.outbox import enqueue
from bot.errors import ConfigError, Unavailable
from bot.metrics import Metrics
from bot.notifier import ChannelNotifier, WeChatNotifier
from bot.outbound import Notice, Notifier, SendResult, Status
from bot.outbox.metrics import Snapshot, refreshing
from bot.settings import Settings

__all__ = ["LATE_REPLY", "OutboxNotifier", "build_notifier", "enqueue"]

log = logging.getLogger("longtuan.outbox")

#: The gateway's 5-second fallback: the recipient wrote just now, so their window is open.
LATE_REPLY = "late_reply"


class OutboxNotifier:
    """Queues each notice in the outbox (its own transaction) for the workers; answers ``QUEUED``.

    With the database down, a late reply still goes out directly through ``fallback`` (the user
    is waiting for it, and its window is open); any other notice answers ``RETRY``.
    """

    def __init__(self, db: Database, clock: Callable[[], float] = time.time, fallback: Notifier | None = None) -> None:
        self._db = db
        self._clock = clock
        self._fallback = fallback

    async def send(self, notice: Notice) -> SendResult:
        if not notice.reply.text:
            return SendResult(Status.DROPPED, "empty")
        try:
            async with self._db.session() as s:
                queued = await enqueue(s, notice, self._clock(), seen=notice.purpose == LATE_REPLY)
        except Unavailable:
            if self._fallback is not None and notice.purpose == LATE_REPLY:
                return await self._fallback.send(notice)
            return SendResult(Status.RETRY, "database_unavailable", self._clock() + 30)
        return SendResult(Status.QUEUED, "" if queued is not None else "already_queued")


async def build_notifier(
    stack: AsyncExitStack,
    settings: Settings,
    db: Database,
    api: WeChatAPI,
    metrics: Metrics,
    clock: Callable[[], float] = time.time,
) -> Notifier:
    """The outbox notifier for WeChat; the outbox's depth and quota gauges join this process's /metrics."""
    if not settings.uses_postgres:
        raise ConfigError("LONGTUAN_OUTBOX=true needs a PostgreSQL database (the outbox is not kept on SQLite)")
    snapshot = Snapshot(settings.outbox_template_daily)
    metrics.registry.register(snapshot)
    await stack.enter_async_context(refreshing(snapshot, db, clock, ZoneInfo(settings.timezone)))
    fallback = WeChatNotifier(api, clock)
    return ChannelNotifier({"wechat": OutboxNotifier(db, clock, fallback)})
