"""The outbound port: pushing a rendered Reply to a user outside a passive reply."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

from bot.channels.wechat.api import WeChatAPI
from bot.channels.wechat.render import reply_to_text
from bot.model import Reply

log = logging.getLogger(__name__)


class Notifier(Protocol):
    """Sends ``reply`` (whose ``text`` is already rendered) to ``user_id`` on ``channel``."""

    async def send(self, channel: str, user_id: str, reply: Reply) -> None: ...


class WeChatNotifier:
    """Pushes through WeChat customer-service messages (48-hour window, 20 sends per window)."""

    def __init__(self, api: WeChatAPI) -> None:
        self._api = api

    async def send(self, channel: str, user_id: str, reply: Reply) -> None:
        text = reply_to_text(reply)
        if not text:
            if reply.key:
                # A key without text means the caller skipped Content.render; WeChat rejects empty content.
                log.warning("unrendered reply %r for %s/%s dropped", reply.key, channel, user_id)
            return
        await self._api.send_custom_text(user_id, text)


class RecordingNotifier:
    """Keeps what would have been sent: the in-process terminal chat and tests read ``sent``."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.replies: list[Reply] = []

    async def send(self, channel: str, user_id: str, reply: Reply) -> None:
        if reply.is_empty and not reply.buttons:
            return
        self.sent.append((channel, user_id, reply.text))
        self.replies.append(reply)


class ChannelNotifier:
    """Routes each send to the notifier registered for its channel name."""

    def __init__(self, routes: Mapping[str, Notifier]) -> None:
        self._routes = dict(routes)

    async def send(self, channel: str, user_id: str, reply: Reply) -> None:
        try:
            notifier = self._routes[channel]
        except KeyError:
            known = ", ".join(sorted(self._routes)) or "none"
            raise KeyError(f"no notifier for channel {channel!r} (known: {known})") from None
        await notifier.send(channel, user_id, reply)
