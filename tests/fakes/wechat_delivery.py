"""The fake platform's sending rules: the customer-service window, templates, consents, mass sends.

Every rule of the delivery table in issue 11, each number an attribute a test may change:

- customer-service: 48 h and ``cs_allowance`` (5) messages after the user wrote, 1 minute and 3
  after a click, follow or scan; else 45015 (window closed) or 45047 (allowance used).
- template: a registered template id and fields (40037), a follower (43004), ``template_daily``
  a Shanghai day for the whole account (45009).
- subscription notice (bizsend): one per consent the user gave for that template (43101).
- mass send by openids: 2 to 10,000 openids (40130), ``mass_per_minute`` calls a minute (45011),
  ``mass_monthly`` a follower a calendar month (the rest filtered; nobody left: 45028), each
  ``clientmsgid`` once (45065, nothing sent again).
- any send call: ``rate_limit`` calls a second, over any ``rate_window`` seconds (45011).

``received`` keeps, per openid, what reached that user by which way: the crash test and the
benchmark count duplicates and losses from it.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
MESSAGE_WINDOW = 48 * 3600
EVENT_WINDOW = 60
MAX_OPENIDS = 10_000
SEND_PATHS = frozenset(
    {
        "/cgi-bin/message/custom/send",
        "/cgi-bin/message/template/send",
        "/cgi-bin/message/subscribe/bizsend",
        "/cgi-bin/message/mass/send",
    }
)


class Refused(Exception):
    """The platform answers this errcode."""

    def __init__(self, errcode: int) -> None:
        super().__init__(errcode)
        self.errcode = errcode


@dataclass(slots=True, frozen=True)
class Received:
    way: str
    text: str
    at: float
    template_id: str = ""


@dataclass(slots=True)
class _Window:
    opened: float
    length: float
    allowance: int
    used: int = 0


class DeliveryRules:
    """Mixed into ``FakeWeChatAPI``: the state and checks of the four ways to reach a user."""

    clock: Callable[[], float]
    #: Customer-service allowance after a message (5) and after a click/follow/scan (3 in a minute).
    cs_allowance = 5
    cs_event_allowance = 3
    template_daily = 100_000
    mass_monthly = 4
    mass_per_minute = 60
    #: Send calls allowed a second (None: no limit), counted over any ``rate_window`` seconds: a minute,
    #: as WeChat counts (45011 is its "minute quota"). A shorter window would measure the fake's own
    #: event loop, which serves requests in bursts after a stall (a mass send of 10,000 openids).
    rate_limit: float | None = None
    rate_window = 60.0

    def _init_delivery(self) -> None:
        #: None: everybody follows (tests of other things need not say so).
        self.followers: set[str] | None = None
        self.templates: dict[str, frozenset[str]] = {}
        self.consents: collections.Counter[tuple[str, str]] = collections.Counter()
        self.received: dict[str, list[Received]] = collections.defaultdict(list)
        #: Every errcode answered, by code (the benchmark's quota errors).
        self.errors: collections.Counter[int] = collections.Counter()
        self.mass_jobs: dict[str, dict[str, int]] = {}
        self._windows: dict[str, _Window] = {}
        self._template_days: collections.Counter[str] = collections.Counter()
        self._mass_months: collections.Counter[tuple[str, str]] = collections.Counter()
        self._clientmsgids: set[str] = set()
        self._send_times: collections.deque[float] = collections.deque()
        self._mass_times: collections.deque[float] = collections.deque()
        self._next_msgid = 3_000_000_000

    # -- set-up by tests -----------------------------------------------------------------------

    def interact(self, openid: str, at: float | None = None, kind: str = "message") -> None:
        """The user wrote (``message``) or clicked, followed or scanned (``event``): a new window."""
        opened = self.clock() if at is None else at
        if kind == "message":
            self._windows[openid] = _Window(opened, MESSAGE_WINDOW, self.cs_allowance)
        else:
            self._windows[openid] = _Window(opened, EVENT_WINDOW, self.cs_event_allowance)

    def follow(self, *openids: str) -> None:
        if self.followers is None:
            self.followers = set()
        self.followers.update(openids)

    def unfollow(self, *openids: str) -> None:
        if self.followers is None:
            self.followers = set()
        self.followers.difference_update(openids)

    def add_template(self, template_id: str, *fields: str) -> None:
        self.templates[template_id] = frozenset(fields)

    def grant(self, openid: str, template_id: str, times: int = 1) -> None:
        """The user accepted the subscription pop-up for ``template_id`` (once per acceptance)."""
        self.consents[(openid, template_id)] += times

    def to(self, openid: str, way: str | None = None) -> list[Received]:
        return [r for r in self.received.get(openid, []) if way is None or r.way == way]

    # -- checks ---------------------------------------------------------------------------------

    def _follows(self, openid: str) -> bool:
        return self.followers is None or openid in self.followers

    def _pace(self, path: str) -> None:
        if path not in SEND_PATHS:
            return
        now = time.monotonic()
        if self.rate_limit is not None:
            _slide(self._send_times, now, self.rate_window)
            if len(self._send_times) >= self.rate_limit * self.rate_window:
                raise Refused(45011)
        if path == "/cgi-bin/message/mass/send":
            _slide(self._mass_times, now, 60.0)
            if len(self._mass_times) >= self.mass_per_minute:
                raise Refused(45011)
            self._mass_times.append(now)
        self._send_times.append(now)

    def _custom_window(self, body: dict[str, Any]) -> _Window:
        """The window a customer-service message to ``touser`` would use (checked before the content)."""
        window = self._windows.get(str(body.get("touser")))
        if window is None:
            raise Refused(40003)
        if self.clock() - window.opened > window.length:
            raise Refused(45015)
        if window.used >= window.allowance:
            raise Refused(45047)
        return window

    def _custom(self, body: dict[str, Any], window: _Window, content: str) -> None:
        window.used += 1
        self.received[str(body.get("touser"))].append(Received("custom", content, self.clock()))

    def _template_send(self, body: dict[str, Any]) -> dict[str, Any]:
        openid = str(body.get("touser", ""))
        template_id = str(body.get("template_id", ""))
        fields = self._template_fields(template_id, body)
        if not self._follows(openid):
            raise Refused(43004)
        day = datetime.fromtimestamp(self.clock(), SHANGHAI).date().isoformat()
        if self._template_days[day] >= self.template_daily:
            raise Refused(45009)
        self._template_days[day] += 1
        self.received[openid].append(Received("template", fields, self.clock(), template_id))
        self._next_msgid += 1
        return {"msgid": self._next_msgid}

    def _bizsend(self, body: dict[str, Any]) -> dict[str, Any]:
        openid = str(body.get("touser", ""))
        template_id = str(body.get("template_id", ""))
        fields = self._template_fields(template_id, body)
        if self.consents[(openid, template_id)] <= 0:
            raise Refused(43101)
        self.consents[(openid, template_id)] -= 1
        self.received[openid].append(Received("subscribe", fields, self.clock(), template_id))
        return {}

    def _mass_send(self, body: dict[str, Any]) -> dict[str, Any]:
        openids = body.get("touser")
        if not isinstance(openids, list) or not 2 <= len(openids) <= MAX_OPENIDS:
            raise Refused(40130)
        clientmsgid = str(body.get("clientmsgid", ""))
        if clientmsgid and clientmsgid in self._clientmsgids:
            raise Refused(45065)
        text = body.get("text")
        content = text.get("content") if isinstance(text, dict) else None
        if body.get("msgtype") != "text" or not isinstance(content, str) or not content:
            raise Refused(44004)
        month = datetime.fromtimestamp(self.clock(), SHANGHAI).strftime("%Y-%m")
        followers, counts, cap = self.followers, self._mass_months, self.mass_monthly
        reach = [
            o
            for o in dict.fromkeys(map(str, openids))
            if (followers is None or o in followers) and counts[(o, month)] < cap
        ]
        if not reach:
            raise Refused(45028)
        if clientmsgid:
            self._clientmsgids.add(clientmsgid)
        got = Received("mass", content, self.clock())  # one record shared by all: it is frozen
        received = self.received
        for openid in reach:
            counts[(openid, month)] += 1
            received[openid].append(got)
        self._next_msgid += 1
        msg_id = str(self._next_msgid)
        self.mass_jobs[msg_id] = {"total": len(openids), "sent": len(reach), "filtered": len(openids) - len(reach)}
        return {"msg_id": int(msg_id), "msg_data_id": int(msg_id)}

    def _template_fields(self, template_id: str, body: dict[str, Any]) -> str:
        """The template's text as the user reads it; 40037 for an unknown template or a field it lacks."""
        known = self.templates.get(template_id)
        data = body.get("data")
        if known is None or not isinstance(data, dict) or not set(data) <= known:
            raise Refused(40037)
        return " ".join(f"{k}={v.get('value', '')}" for k, v in sorted(data.items()) if isinstance(v, dict))


def _slide(times: collections.deque[float], now: float, width: float) -> None:
    while times and now - times[0] >= width:
        times.popleft()
