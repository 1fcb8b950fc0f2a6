"""The channel-neutral message model: what adapters produce and what handlers return.

Neither XML nor Telegram JSON crosses this line. A channel adapter turns a platform payload
into an ``Inbound``; a handler answers with a ``Reply`` that names a content key and its
parameters; the adapter renders it for its platform (or hands it to the outbox).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


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
    TEMPLATE_SENT = "template_sent"
    MASS_SENT = "mass_sent"
    SUBSCRIBE_MSG_POPUP = "subscribe_msg_popup"
    SUBSCRIBE_MSG_CHANGE = "subscribe_msg_change"
    SUBSCRIBE_MSG_SENT = "subscribe_msg_sent"
    UNKNOWN = "unknown"


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
    """A choice offered to the user: rendered as a tappable link/menu on WeChat, a keyboard on Telegram.

    ``text`` is the label shown; ``payload`` is what comes back as if the user had typed it.
    """

    text: str
    payload: str = ""
    url: str = ""


@dataclass(slots=True)
class Reply:
    """What a handler answers: a content key with parameters, optional buttons.

    ``text`` is filled by rendering (``Content.render``) before a channel sees it; handlers set
    ``key`` and ``params``. An empty reply (``Reply.nothing()``) means: answer the platform, say nothing.
    """

    key: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    buttons: list[Button] = field(default_factory=list)
    text: str = ""

    @classmethod
    def nothing(cls) -> Reply:
        return cls()

    @property
    def is_empty(self) -> bool:
        return not self.key and not self.text
