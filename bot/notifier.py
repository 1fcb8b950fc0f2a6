"""Notifiers: the implementations of the outbound port (``bot.outbound.Notifier``).

Until the delivery engine lands, WeChat notices go out as customer-service messages, sent at
once, and the platform's refusals become typed results instead of exceptions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from bot.channels.wechat.api import WeChatAPI, WeChatAPIError
from bot.channels.wechat.render import reply_to_text
from bot.outbound import SENT, Notice, Notifier, SendResult, Status

log = logging.getLogger(__name__)

#: WeChat error codes of the customer-service API, and what they mean for this notice.
_DROP = {
    45015: "outside_window",  # the user has not written in the last 48 hours
    43004: "not_follower",
    40003: "bad_openid",
    45047: "allowance_used",  # the window's allowance of messages is used up
}
_RETRY_AFTER = {-1: 30.0, 45011: 60.0}


class WeChatNotifier:
    """Pushes through WeChat customer-service messages (48-hour window, a few sends per window)."""

    def __init__(self, api: WeChatAPI, clock: object = time.time) -> None:
        self._api = api
        self._clock = clock if callable(clock) else time.time

    async def send(self, notice: Notice) -> SendResult:
        text = reply_to_text(notice.reply)
        if not text:
            if notice.reply.key:
                # A key without text means the caller skipped Content.render; WeChat rejects empty content.
                log.warning("unrendered notice dropped", extra={"purpose": notice.purpose, "key": notice.reply.key})
            return SendResult(Status.DROPPED, "empty")
        try:
            await self._api.send_custom_text(notice.user_id, text)
        except WeChatAPIError as exc:
            if exc.errcode in _DROP:
                return SendResult(Status.DROPPED, _DROP[exc.errcode])
            if exc.errcode in _RETRY_AFTER:
                return SendResult(Status.RETRY, f"errcode {exc.errcode}", self._clock() + _RETRY_AFTER[exc.errcode])
            return SendResult(Status.DROPPED, f"errcode {exc.errcode}")
        return SENT


class RecordingNotifier:
    """Keeps what would have been sent: the in-process terminal chat and tests read it."""

    def __init__(self) -> None:
        self.notices: list[Notice] = []

    @property
    def sent(self) -> list[tuple[str, str, str]]:
        return [(n.channel, n.user_id, n.reply.text) for n in self.notices]

    def to(self, user_id: str, purpose: str | None = None) -> list[Notice]:
        return [n for n in self.notices if n.user_id == user_id and (purpose is None or n.purpose == purpose)]

    async def send(self, notice: Notice) -> SendResult:
        if notice.reply.is_empty and not notice.reply.buttons:
            return SendResult(Status.DROPPED, "empty")
        self.notices.append(notice)
        return SENT


class ChannelNotifier:
    """Routes each notice to the notifier registered for its channel name."""

    def __init__(self, routes: Mapping[str, Notifier]) -> None:
        self._routes = dict(routes)

    async def send(self, notice: Notice) -> SendResult:
        try:
            notifier = self._routes[notice.channel]
        except KeyError:
            known = ", ".join(sorted(self._routes)) or "none"
            raise KeyError(f"no notifier for channel {notice.channel!r} (known: {known})") from None
        return await notifier.send(notice)
