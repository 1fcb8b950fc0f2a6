"""Conversation state: sessions, flow states, and the store contract shared by Redis and memory.

A message's trip through a store is two calls. ``begin`` claims the delivery (de-duplication),
takes the user's lock and reads the session, in that order and in one round trip: the lock is
taken *before* the state is read, so two messages of one user never interleave (aiogram #1317).
``finish`` writes the session if it changed, releases the lock and caches the reply for retries.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from bot.errors import ConfigError, Unavailable

#: One encoder, built once: ``json.dumps`` with an argument builds one per call.
_dumps = json.JSONEncoder(ensure_ascii=False).encode

#: The dedupe record of a delivery whose handler is still running.
PENDING = "\x00pending"


@dataclass(slots=True, frozen=True)
class SessionKey:
    channel: str
    bot: str
    user: str

    def __str__(self) -> str:
        return f"{self.channel}:{self.bot}:{self.user}"

    @classmethod
    def parse(cls, text: str) -> SessionKey:
        # The channel and bot ids hold no colon; a user id might.
        channel, bot, user = text.split(":", 2)
        return cls(channel, bot, user)


class State:
    """One step of a multi-step flow. Declared as a class attribute of a ``StatesGroup``.

    ``timeout`` (seconds) bounds how long the bot waits for the user's next answer (None: the
    deployment's LONGTUAN_FLOW_TIMEOUT); when it has passed, the state is dropped, the flow's
    ``cleanup`` runs and the user is told so with the text ``timeout_key``.
    """

    def __init__(self, timeout: int | None = None, timeout_key: str = "system.flow_timeout") -> None:
        self.timeout = timeout
        self.timeout_key = timeout_key
        self.name = ""
        self.group: type[StatesGroup] | None = None

    def __set_name__(self, owner: type, name: str) -> None:
        # Namespaced by module and class: two programmes may both have a "SignupFlow".
        self.name = f"{owner.__module__}.{owner.__qualname__}:{name}"

    def __repr__(self) -> str:
        return f"State({self.name})"


#: ``async def cleanup(services, key, data, reason)``: undo what a flow holds (a seat, a draft)
#: when it ends unfinished; ``reason`` is "cancelled", "timeout" or "left". Must be safe to run twice.
Cleanup = Callable[[Any, SessionKey, dict[str, Any], str], Awaitable[None]]


class StatesGroup:
    """A flow: its states are the ``State`` attributes of the subclass.

    ``title_key`` names the flow as users read it (「设置街道」), in notes such as "paused" or
    "cancelled"; ``cleanup`` runs when the flow ends unfinished, also when it times out with the
    user gone (a scheduler job sweeps flows that have one).
    """

    registry: ClassVar[dict[str, State]] = {}
    title_key: ClassVar[str] = "system.flow_default"
    cleanup: ClassVar[Cleanup | None] = None
    #: A browsing context (a list on screen whose numbers open items) rather than a question:
    #: leaving it or asking something else in between needs no "still waiting" line, and its
    #: lapse no "timed out, cancelled for you" one.
    quiet: ClassVar[bool] = False

    def __init_subclass__(cls) -> None:
        for value in vars(cls).values():
            if isinstance(value, State):
                if value.name in StatesGroup.registry:
                    raise ConfigError(f"flow state {value.name} is declared twice")
                value.group = cls
                StatesGroup.registry[value.name] = value

    @staticmethod
    def of(state_name: str | None) -> type[StatesGroup] | None:
        state = StatesGroup.registry.get(state_name) if state_name else None
        return state.group if state is not None else None


@dataclass(slots=True)
class Session:
    """What the bot remembers of one conversation. Handlers change it; the pipeline saves it.

    ``persistent`` is False when the store is unreachable: the message is still answered, but a
    handler that needs to remember something gets ``Unavailable`` and the user a polite "busy".
    """

    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    expires_at: float | None = None
    persistent: bool = True
    changed: bool = False
    #: The state that had timed out when this session was read (its user is told so), and its data.
    expired: State | None = None
    expired_data: dict[str, Any] = field(default_factory=dict)
    #: The payload of the next page of the last list shown (the user's 「更多」 sends it).
    more: str = ""
    #: The script the person writes in ("hant" for traditional, "" for simplified): kept across
    #: flows, so that a bare "4" after a traditional message is answered in traditional too.
    script: str = ""
    #: The state the session was read in (before a time-out cleared it): whether the clean-up
    #: job's list may hold this conversation (``FlowGuard.track``).
    loaded_state: str | None = None

    def set_state(
        self, state: State, *, now: float | None = None, default_timeout: int | None = None, **data: Any
    ) -> None:
        """Wait in ``state``; it lapses after the state's own timeout, else ``default_timeout``."""
        if not self.persistent:
            raise Unavailable("session store is unavailable")
        timeout = state.timeout or default_timeout
        self.state = state.name
        self.data = dict(data)
        self.expires_at = (now or time.time()) + timeout if timeout else None
        self.changed = True

    def update(self, data: dict[str, Any]) -> None:
        """Merge ``data`` into the flow's data (kept until the state ends)."""
        if not self.persistent:
            raise Unavailable("session store is unavailable")
        self.data.update(data)
        self.changed = True

    def clear(self) -> None:
        if self.state is not None or self.data:
            self.state, self.data, self.expires_at, self.changed = None, {}, None, True

    @property
    def group(self) -> type[StatesGroup] | None:
        return StatesGroup.of(self.state)

    def in_state(self, state: State) -> bool:
        return self.state == state.name

    def set_more(self, payload: str) -> None:
        if self.persistent and payload != self.more:
            self.more, self.changed = payload, True

    def set_script(self, script: str) -> None:
        """Remember the script the person last wrote in (not a flow's data: ``clear`` keeps it)."""
        if self.persistent and script != self.script:
            self.script, self.changed = script, True

    @property
    def empty(self) -> bool:
        return self.state is None and not self.data and not self.more and not self.script

    def dumps(self) -> str:
        blob: dict[str, Any] = {"s": self.state, "d": self.data, "x": self.expires_at}
        if self.more:
            blob["m"] = self.more
        if self.script:
            blob["t"] = self.script
        return _dumps(blob)

    @classmethod
    def loads(cls, raw: str | bytes | None, now: float) -> Session:
        if not raw:
            return cls()
        try:
            blob = json.loads(raw)
            state, data, expires_at, more = blob.get("s"), blob.get("d") or {}, blob.get("x"), blob.get("m") or ""
            script = blob.get("t") or ""
            # Wrong types would fail later, inside begin() with the lock already taken: corrupt too.
            if not (
                isinstance(state, str | None)
                and isinstance(data, dict)
                and isinstance(expires_at, int | float | None)
                and not isinstance(expires_at, bool)
                and isinstance(more, str)
                and isinstance(script, str)
            ):
                raise ValueError("session record of an unexpected shape")
            session = cls(state=state, data=data, expires_at=expires_at, more=more, script=script, loaded_state=state)
        except (ValueError, AttributeError):
            # A record this version cannot read is dropped rather than failing the user forever.
            return cls(changed=True)
        if session.state and session.expires_at is not None and session.expires_at <= now:
            session.expired = StatesGroup.registry.get(session.state, State())
            session.expired_data = session.data
            session.clear()
        return session


@dataclass(slots=True)
class Begin:
    """The outcome of ``Store.begin``.

    ``duplicate`` is True when the delivery was claimed before; ``result`` then holds the cached
    reply (``PENDING`` while the first delivery is still running). Otherwise the lock is held by
    ``owner`` and ``session`` is the user's session.
    """

    duplicate: bool
    result: str | None = None
    session: Session | None = None
    owner: str = ""


class Store(Protocol):
    """Dedupe + per-user lock + session state. Implemented by ``RedisStore`` and ``MemoryStore``."""

    async def begin(self, dedupe: str | None, key: SessionKey, owner: str) -> Begin:
        """Claim ``dedupe`` (skipped when None), then take the lock and read the session.

        Waits (bounded by the lock wait) while another message of the same user holds the lock;
        raises ``Unavailable`` when the store is down and ``LockTimeout`` when the wait ran out.
        """

    async def finish(self, dedupe: str | None, key: SessionKey, owner: str, session: Session, result: str) -> bool:
        """Save a changed session and release the lock if still ours, cache ``result`` for retries.

        Returns False when the lock was no longer ours (it lapsed and another message took it):
        the session was then left to that message.
        """

    async def track_flow(self, key: SessionKey, expires_at: float | None) -> None:
        """Remember when this conversation's flow times out (None: forget it), for the clean-up job."""

    async def due_flows(self, now: float, limit: int = 500) -> list[SessionKey]:
        """Conversations whose tracked flow has timed out by ``now``, oldest first."""

    async def result(self, dedupe: str) -> str | None:
        """The cached reply of a delivery (``PENDING`` while running, None when unknown)."""

    async def forget(self, dedupe: str) -> None:
        """Drop a claim whose handling failed, so the platform's retry is handled afresh."""

    async def remember_once(self, name: str, value: str, ttl: int) -> str | None:
        """Store ``value`` under ``name`` unless present; return what was there before (or None)."""

    async def ping(self) -> None:
        """Raise ``Unavailable`` unless the store answers."""

    async def close(self) -> None: ...


Clock = Callable[[], float]
