"""The outbound port: a notice to one user outside a passive reply, and what became of it.

Programmes, jobs and the gateway's late replies all reach users through ``Notifier.send``.
A notice names its ``purpose`` (``late_reply``, ``class_reminder``, ``waitlist_promoted`` ...),
carries an idempotency ``key`` (the same key is delivered at most once by an engine that keeps
a ledger) and the ``fields`` a WeChat template notice would need, so the delivery engine can
pick customer-service, template or subscription messages without touching the programme.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from bot.model import Reply

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("longtuan.outbound")


@dataclass(slots=True, frozen=True)
class Notice:
    channel: str
    user_id: str
    purpose: str
    #: What the user reads; rendered (``text`` filled) before a channel sends it.
    reply: Reply
    #: Idempotency key: one delivery per key (e.g. ``class_reminder:day:412:77``).
    key: str
    #: Template-notice fields (class, time, venue ...), by name.
    fields: Mapping[str, str] = field(default_factory=dict)


class Status(enum.StrEnum):
    SENT = "sent"
    #: Not now: try again at ``retry_at`` (busy platform, rate limit, a queue will take it).
    RETRY = "retry"
    #: Will never go out this way; ``reason`` says why (outside the window, unsubscribed ...).
    DROPPED = "dropped"
    #: Accepted by an engine that sends it later (the outbox).
    QUEUED = "queued"


@dataclass(slots=True, frozen=True)
class SendResult:
    status: Status
    reason: str = ""
    retry_at: float | None = None

    @property
    def ok(self) -> bool:
        return self.status in (Status.SENT, Status.QUEUED)


SENT = SendResult(Status.SENT)


class Notifier(Protocol):
    """Sends one notice; never raises for a platform refusal (that is a ``SendResult``)."""

    async def send(self, notice: Notice) -> SendResult: ...


class Queue(Protocol):
    """Queues a rendered notice inside the caller's transaction (the outbox): it goes out once that
    transaction commits, and never if it rolls back. Answers ``QUEUED`` (reason ``already_queued``
    for a key queued before) or ``DROPPED`` for an empty notice."""

    async def queue(self, session: AsyncSession, notice: Notice) -> SendResult: ...


@dataclass(slots=True, frozen=True)
class Receipt:
    """What a platform reports about earlier sends: a template or mass-send job's result, or a
    user's answer to a subscription-message prompt. Not a message: no handler sees it."""

    channel: str
    user_id: str
    #: ``template_sent``, ``mass_sent``, ``subscribe_msg_popup``, ``subscribe_msg_change``, ``subscribe_msg_sent``
    kind: str
    #: The platform's job id (WeChat MsgID) or the first template id.
    ref: str
    at: int
    fields: Mapping[str, str] = field(default_factory=dict)


class Ledger(Protocol):
    """The delivery ledger port: records receipts (the delivery engine matches them to its sends)."""

    async def record(self, receipt: Receipt) -> None: ...


class LogLedger:
    """Until the delivery engine keeps a ledger, receipts are logged (without message text)."""

    async def record(self, receipt: Receipt) -> None:
        log.info("delivery receipt", extra={"kind": receipt.kind, "ref": receipt.ref, **receipt.fields})
