"""The typed context: app-wide services, and the per-message view handlers receive."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.content import Content
from bot.session.base import Session, State
from bot.settings import Settings
from bot.text import Analyzer

if TYPE_CHECKING:
    from bot.db.users import Users
    from bot.metrics import Metrics
    from bot.notifier import Notifier
    from bot.session.base import Store


@dataclass(slots=True)
class Services:
    """Everything a handler or a scheduled job may use, built once per process."""

    settings: Settings
    content: Content
    analyzer: Analyzer
    store: Store
    users: Users
    metrics: Metrics
    notifier: Notifier
    clock: Callable[[], float] = time.time


@dataclass(slots=True)
class Context:
    """What one message's handler sees: the services plus this conversation's session."""

    services: Services
    session: Session
    request_id: str = ""

    @property
    def content(self) -> Content:
        return self.services.content

    @property
    def users(self) -> Users:
        return self.services.users

    def now(self) -> float:
        return self.services.clock()

    def enter(self, state: State, **data: Any) -> None:
        """Wait for the user's next answer in ``state`` (LONGTUAN_FLOW_TIMEOUT unless it sets its own)."""
        self.session.set_state(state, now=self.now(), default_timeout=self.services.settings.flow_timeout, **data)
