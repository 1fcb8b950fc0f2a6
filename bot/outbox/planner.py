"""The planner: by which way a notice reaches one user now, or why it waits or is dropped.

Order of preference (WeChat's rules, issue 11): a customer-service message while the 48-hour
window and its allowance last (free, immediate, any text); else the purpose's template or
subscription notice when one is configured and allowed; else the notice waits for the user's
next interaction (dropped after ``LONGTUAN_OUTBOX_WAIT``). Campaigns add the mass send
(``bot.outbox.campaigns``), planned in bulk by the same rules.

The window is computed from ``users.last_seen``, which is kept to a resolution of
``LONGTUAN_LAST_SEEN_RESOLUTION`` (60 s) and written behind (about a second): the user's real
last interaction may be up to that much later than ``last_seen``, so the window computed here
closes at most a minute *early*, never late, and the allowance counts customer-service messages
since ``last_seen`` (a few sent just before the real interaction are counted too: again on the
safe side). ``last_seen`` does not say whether the user wrote or only clicked, followed or
scanned (WeChat then allows 3 messages in 1 minute): when the platform answers 45015 or 45047
the worker re-plans with the customer-service way excluded.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.outbox.purposes import Purpose


@dataclass(slots=True, frozen=True)
class Facts:
    """What the planner knows about the recipient, read in the worker's claim."""

    subscribed: bool
    #: users.last_seen (epoch seconds), 0 if never seen.
    last_seen: float
    #: Customer-service messages sent to them since ``last_seen``.
    custom_sent: int
    #: Consents left for the purpose's subscription template.
    consents: int = 0


@dataclass(slots=True, frozen=True)
class Rules:
    cs_window: float
    cs_allowance: int


@dataclass(slots=True, frozen=True)
class Decision:
    #: send · wait (the next interaction) · later (retry at ``at``) · drop
    action: str
    way: str = "none"
    reason: str = ""
    at: float = 0.0


def in_window(facts: Facts, now: float, rules: Rules) -> bool:
    return facts.last_seen > 0 and now - facts.last_seen < rules.cs_window and facts.custom_sent < rules.cs_allowance


def choose(
    facts: Facts,
    purpose: Purpose | None,
    now: float,
    rules: Rules,
    *,
    excluded: frozenset[str] = frozenset(),
    paused: dict[str, float] | None = None,
) -> Decision:
    """The way for one notice now. ``excluded``: ways the platform just refused for this notice;
    ``paused``: ways paused for the account until a time (the template quota, 45009)."""
    if not facts.subscribed:
        return Decision("drop", reason="unsubscribed")
    if "custom" not in excluded and in_window(facts, now, rules):
        return Decision("send", "custom")
    if purpose is not None and purpose.way not in excluded:
        until = (paused or {}).get(purpose.way, 0.0)
        if purpose.way == "subscribe" and facts.consents <= 0:
            return Decision("wait", reason="no_consent")
        if until > now:
            return Decision("later", purpose.way, reason=f"{purpose.way}_paused", at=until)
        return Decision("send", purpose.way)
    if purpose is not None:
        return Decision("wait", reason=f"{purpose.way}_refused")
    return Decision("wait", reason="window_closed")
