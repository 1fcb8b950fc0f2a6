"""The typed context: app-wide services, the per-message view handlers receive, and a job's unit of work."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import Content
from bot.db.delivery.outbox import durable
from bot.model import Inbound, Reply
from bot.outbound import Notice, SendResult, Status
from bot.sealing import Sealer, sealer_for
from bot.session.base import Session, State
from bot.settings import Settings
from bot.text import Analyzer

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from bot.channels.wechat.api import WeChatAPI
    from bot.db import Database
    from bot.db.users import Users
    from bot.metrics import Metrics
    from bot.outbound import Ledger, Notifier, Queue
    from bot.session.base import Store

log = logging.getLogger("longtuan.context")


@dataclass(slots=True)
class Services:
    """Everything a handler or a scheduled job may use, built once per process (``bot.services``)."""

    settings: Settings
    content: Content
    analyzer: Analyzer
    store: Store
    db: Database
    users: Users
    metrics: Metrics
    notifier: Notifier
    clock: Callable[[], float] = time.time
    #: Where delivery receipts go (template / mass-send results, subscription consents).
    ledger: Ledger | None = None
    #: The WeChat API client, for the channel's own calls (QR codes, menu); notices go through ``notifier``.
    wechat: WeChatAPI | None = None
    #: The Redis client every part of this process shares (None without LONGTUAN_REDIS_URL).
    redis: Redis | None = None
    #: The transactional outbox (LONGTUAN_OUTBOX, and no notifier of the caller's own): a notice
    #: queued inside a transaction goes into it in that transaction. None: it is sent after the commit.
    outbox: Queue | None = None
    _tz: ZoneInfo | None = field(default=None, init=False, repr=False, compare=False)
    _sealer: Sealer | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def sealer(self) -> Sealer:
        """Seals personal data at rest (``bot.sealing``); ConfigError without LONGTUAN_DATA_KEY
        (the web app refuses to start then, so a message never meets it)."""
        sealer = self._sealer
        if sealer is None:
            sealer = self._sealer = sealer_for(self.settings.data_key)
        return sealer

    @property
    def tz(self) -> ZoneInfo:
        # ZoneInfo keeps its instances, but looking one up by name costs more than the arithmetic.
        zone = self._tz
        if zone is None or zone.key != self.settings.timezone:
            zone = self._tz = ZoneInfo(self.settings.timezone)
        return zone

    def now(self) -> float:
        return self.clock()

    def local_now(self) -> datetime:
        """The current time in the deployment's time zone (Asia/Shanghai), aware."""
        return datetime.fromtimestamp(self.clock(), self.tz)

    async def notify(self, notice: Notice) -> SendResult:
        """Render the notice's reply and hand it to the outbound port (tied to no transaction)."""
        return await self.notifier.send(replace(notice, reply=self.content.render(notice.reply)))

    async def queue(self, session: AsyncSession, notice: Notice) -> SendResult:
        """Render the notice and queue it in ``session``'s transaction; needs ``outbox``."""
        assert self.outbox is not None, "queue() is for the outbox; without it notices go out after the commit"
        return await self.outbox.queue(session, replace(notice, reply=self.content.render(notice.reply)))

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[Unit]:
        """One transaction and the notices it decides on (a job's, a command's): ``unit.notify(notice)``.

        With the outbox, they are queued in the transaction just before it commits, so a notice
        goes out exactly when its change holds; without, they are sent once it has committed.
        A block that raises rolls back and sends nothing. ``unit.results`` says, once the block
        has ended, what became of each notice, in order.
        """
        async with self.db.session() as s:
            unit = Unit(s)
            yield unit
            if self.outbox is not None:
                unit.results = [await self.queue(s, notice) for notice in unit.notices]
        if self.outbox is None and unit.notices:
            async with self.db.session() as s:
                await durable(s)  # a change may have committed asynchronously (a seat): on disk first
            unit.results = [await self._send_committed(notice) for notice in unit.notices]

    async def _send_committed(self, notice: Notice) -> SendResult:
        try:
            return await self.notify(notice)
        except Exception:  # the change is committed: one failed send must not stop the others
            log.exception("notice could not be sent", extra={"purpose": notice.purpose})
            return SendResult(Status.RETRY, "error")


@dataclass(slots=True)
class Unit:
    """A transaction (``session``) and the notices queued in it (``Services.unit``)."""

    session: AsyncSession
    notices: list[Notice] = field(default_factory=list)
    #: What became of each notice, in order; filled when the block has ended.
    results: list[SendResult] = field(default_factory=list)

    def notify(self, notice: Notice) -> None:
        self.notices.append(notice)

    @property
    def sent(self) -> int:
        """How many notices were sent or queued."""
        return sum(r.ok for r in self.results)


@dataclass(slots=True)
class Context:
    """What one message's handler sees: the services, the message's sender, this conversation's session."""

    services: Services
    session: Session
    request_id: str = ""
    channel: str = ""
    user_id: str = ""
    #: Notices the handler queued and ``db()`` did not put in the outbox; sent by the pipeline once
    #: the handler has returned (after its transactions committed).
    notices: list[Notice] = field(default_factory=list)

    @property
    def content(self) -> Content:
        return self.services.content

    @property
    def users(self) -> Users:
        return self.services.users

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def now(self) -> float:
        return self.services.clock()

    def local_now(self) -> datetime:
        return self.services.local_now()

    @asynccontextmanager
    async def db(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back when it raises.

        Notices queued inside the block (``notify``, ``notice``) belong to its change: with the
        outbox they are queued in this transaction before it commits; without, the pipeline sends
        them after the handler returns. A block that raises drops them with its change.
        Raises ``Unavailable`` when the database is down (the user hears the polite "busy").
        """
        services, mark = self.services, len(self.notices)
        try:
            async with services.db.session() as session:
                yield session
                if services.outbox is not None:
                    for notice in self.notices[mark:]:
                        await services.queue(session, notice)
                    del self.notices[mark:]
        except BaseException:
            del self.notices[mark:]
            raise

    # -- flows ---------------------------------------------------------------------------------

    @property
    def data(self) -> dict[str, Any]:
        """The data the current flow keeps across steps (read-only view by convention)."""
        return self.session.data

    def enter(self, state: State, **data: Any) -> None:
        """Wait for the user's next answer in ``state`` (LONGTUAN_FLOW_TIMEOUT unless it sets its own).

        ``data`` replaces the flow's data; use ``update`` to add to it.
        """
        _check_json(data)
        self.session.set_state(state, now=self.now(), default_timeout=self.services.settings.flow_timeout, **data)

    def update(self, **data: Any) -> None:
        """Keep ``data`` for the next steps of the current flow (merged into what is there)."""
        _check_json(data)
        self.session.update(data)

    def finish(self) -> None:
        """End the flow: no state, no data."""
        self.session.clear()

    def notify(self, notice: Notice) -> None:
        """Queue a notice; inside ``db()`` it is part of that transaction's change (see ``db``)."""
        self.notices.append(notice)

    def notice(self, purpose: str, key: str, reply: Reply, **fields: str) -> None:
        """Queue a notice to this message's sender (see ``notify``)."""
        self.notices.append(Notice(self.channel, self.user_id, purpose, reply, key, fields))

    @classmethod
    def for_message(cls, services: Services, session: Session, msg: Inbound, request_id: str = "") -> Context:
        return cls(services, session, request_id, msg.channel, msg.user_id)


def _check_json(data: dict[str, Any]) -> None:
    """Flow data goes to Redis as JSON: refuse what would not survive the trip, inside the handler."""
    try:
        json.dumps(data, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"flow data must be JSON-serialisable: {exc}") from None
