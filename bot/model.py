"""The channel-neutral message model: what adapters produce and what handlers return.

Neither XML nor Telegram JSON crosses this line. A channel adapter turns a platform payload
into an ``Inbound``; a handler answers with a ``Reply`` that names a content key and its
parameters; the adapter renders it for its platform (or hands it to the outbox).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

#: One encoder, built once: ``json.dumps`` with an argument builds one per call.
_dumps = json.JSONEncoder(ensure_ascii=False).encode


class Kind(enum.StrEnum):
    """What arrived. Events and messages share one flat namespace."""

    TEXT = "text"
    IMAGE = "image"
    VOICE = "voice"
    VIDEO = "video"
    SHORTVIDEO = "shortvideo"
    LOCATION = "location"
    LINK = "link"
    # events
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    SCAN = "scan"
    REPORT_LOCATION = "report_location"
    CLICK = "click"
    VIEW = "view"
    UNKNOWN = "unknown"
    # Delivery receipts (template and mass-send job results, subscription-message consents) are
    # not messages: the channel hands them to the delivery ledger (``bot.outbound.Receipt``).


#: Kinds a person typed or sent; everything else is an event the platform raised.
MESSAGE_KINDS = frozenset({Kind.TEXT, Kind.IMAGE, Kind.VOICE, Kind.VIDEO, Kind.SHORTVIDEO, Kind.LOCATION, Kind.LINK})


@dataclass(slots=True, frozen=True)
class Location:
    latitude: float
    longitude: float
    #: Accuracy in metres (the LOCATION event's Precision).
    precision: float | None = None
    label: str = ""
    #: Map zoom level the user picked the point at (a location message's Scale).
    scale: int | None = None


@dataclass(slots=True)
class Inbound:
    """One message or event from one user on one channel.

    ``msg_id`` is kept as a string: WeChat MsgIds exceed 2**53 and must never pass through a float.
    ``text`` holds what the user said: typed text, or the platform's speech recognition for voice.
    ``key`` holds a menu key (CLICK), a URL (VIEW) or a QR scene (subscribe/SCAN, without ``qrscene_``).
    """

    channel: str
    user_id: str
    kind: Kind
    created_at: int
    bot_id: str = ""
    msg_id: str | None = None
    text: str = ""
    key: str = ""
    media_id: str = ""
    url: str = ""
    title: str = ""
    location: Location | None = None
    raw_type: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_event(self) -> bool:
        return self.kind not in MESSAGE_KINDS

    @property
    def dedupe_key(self) -> str:
        """Stable identity of one delivery: MsgId, or user + time + event + key for events."""
        if self.msg_id:
            return f"m:{self.msg_id}"
        return f"e:{self.user_id}:{self.created_at}:{self.raw_type}:{self.key}"


@dataclass(slots=True, frozen=True)
class Button:
    """A choice offered to the user: a tappable line on WeChat, a keyboard button on Telegram.

    ``text`` is the label shown; ``payload`` is opaque to the channel and comes back as if the user
    had typed it (WeChat ``bizmsgmenu`` links today, Telegram callback data later); ``url`` makes
    a link instead.
    """

    text: str
    payload: str = ""
    url: str = ""


_NO_PARAMS: Mapping[str, Any] = MappingProxyType({})


@dataclass(slots=True, frozen=True)
class Reply:
    """What a handler answers: a content key with parameters, optional buttons, optional next page.

    Immutable: ``Content.render`` returns a copy with ``text`` filled, which is what a channel
    renders (and what the retry cache keeps). ``more`` is the payload of the next page: the
    channel offers 「更多」, and the user's 「更多」 comes back as that payload. An empty reply
    (``Reply.nothing()``) means: answer the platform, say nothing.
    """

    key: str = ""
    params: Mapping[str, Any] = field(default_factory=lambda: _NO_PARAMS)
    buttons: tuple[Button, ...] | list[Button] = ()
    text: str = ""
    more: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.buttons, list):
            object.__setattr__(self, "buttons", tuple(self.buttons))

    @classmethod
    def nothing(cls) -> Reply:
        return cls()

    @classmethod
    def of_text(cls, text: str, buttons: tuple[Button, ...] = (), more: str = "") -> Reply:
        return cls(text=text, buttons=buttons, more=more)

    @property
    def is_empty(self) -> bool:
        return not self.key and not self.text

    def with_text(self, text: str) -> Reply:
        return replace(self, text=text)

    def dumps(self) -> str:
        """The rendered reply as JSON: what the retry cache keeps (neutral, never channel bytes)."""
        blob: dict[str, Any] = {"t": self.text}
        if self.key:
            blob["k"] = self.key
        if self.buttons:
            blob["b"] = [[b.text, b.payload, b.url] for b in self.buttons]
        if self.more:
            blob["m"] = self.more
        return _dumps(blob)

    @classmethod
    def loads(cls, raw: str) -> Reply:
        blob = json.loads(raw)
        buttons = tuple(Button(t, p, u) for t, p, u in blob.get("b", ()))
        return cls(key=blob.get("k", ""), text=blob.get("t", ""), buttons=buttons, more=blob.get("m", ""))
