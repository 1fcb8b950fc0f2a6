"""The typed context: app-wide services, and the per-message view handlers receive."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import Content
from bot.model import Inbound, Reply
from bot.outbound import Notice, SendResult
from bot.session.base import Session, State
from bot.settings import Settings
from bot.text import Analyzer

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from bot.channels.wechat.api import WeChatAPI
    from bot.db import Database
    from bot.db.users import Users
    from bot.metrics import Metrics
    from bot.outbound import Ledger, Notifier
    from bot.session.base import Store


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

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    def now(self) -> float:
        return self.clock()

    def local_now(self) -> datetime:
        """The current time in the deployment's time zone (Asia/Shanghai), aware."""
        return datetime.fromtimestamp(self.clock(), self.tz)

    async def notify(self, notice: Notice) -> SendResult:
        """Render the notice's reply and hand it to the outbound port."""
        return await self.notifier.send(replace(notice, reply=self.content.render(notice.reply)))


@dataclass(slots=True)
class Context:
    """What one message's handler sees: the services, the message's sender, this conversation's session."""

    services: Services
    session: Session
    request_id: str = ""
    channel: str = ""
    user_id: str = ""
    #: Notices the handler queued; sent by the pipeline once the handler has returned (after its
    #: transaction committed), so nothing is sent for a change that rolled back.
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

        Raises ``Unavailable`` when the database is down (the user hears the polite "busy").
        """
        async with self.services.db.session() as session:
            yield session

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
        self.notices.append(notice)

    def notice(self, purpose: str, key: str, reply: Reply, **fields: str) -> None:
        """Queue a notice to this message's sender (see ``notices``)."""
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
