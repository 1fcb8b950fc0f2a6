"""The error tree of the service.

LongtuanError
├── ConfigError             bad settings or content; raised at start-up, the process exits
├── RequestRefused          an inbound request the gateway will not handle (maps to an HTTP status)
│   ├── BadQuery            400: nonce, timestamp or echostr not a short run of [0-9A-Za-z]
│   ├── BadSignature        403: forged or missing signature
│   ├── StaleRequest        403: timestamp outside the replay window
│   │   └── BadTimestamp    403: signed, but not a time at all (missing, 400 digits)
│   ├── ReplayedRequest     403: (timestamp, nonce, signature) seen before with another body
│   ├── BodyTooLarge        413
│   └── BadPayload          400: not XML, DOCTYPE/entities, undecryptable, other app id
│       ├── BadEncoding     400: a Content-Encoding the body is not in (gzip that is not gzip)
│       ├── BadField        400: a number out of range or not finite, an id of the wrong shape
│       └── TooComplex      400: nested deeper or more elements than any callback has
├── Unavailable             a backing service (Redis, database) is down; the user hears "busy"
│   └── LockTimeout         the same user's previous message held the lock too long: "busy", and
│                           this message's handler never runs
├── ImportFailed            a cadre's file was refused, nothing imported (bot.imports)
└── WeChatAPIError          the WeChat API answered an error code (bot.channels.wechat.api)

Anything else raised by a handler is a bug: logged with its traceback, the user hears "busy".
"""

from __future__ import annotations


class LongtuanError(Exception):
    """Base of every error this service raises on purpose."""


class ConfigError(LongtuanError):
    """Settings or content are invalid; the message names what and where."""


class RequestRefused(LongtuanError):
    status = 400
    #: Short machine-readable reason: the ``reason`` label in metrics and logs.
    reason = "refused"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.reason)
        self.detail = detail


class BadSignature(RequestRefused):
    status = 403
    reason = "bad_signature"


class BadQuery(RequestRefused):
    """A query value WeChat sends as a short run of letters and digits is anything else.

    Refused before any work, and never echoed: the nonce goes into the encrypted reply.
    """

    status = 400
    reason = "bad_query"


class StaleRequest(RequestRefused):
    status = 403
    reason = "stale_timestamp"


class BadTimestamp(StaleRequest):
    """Correctly signed, yet no time the replay window could compare (it would overflow a float)."""

    reason = "bad_timestamp"


class ReplayedRequest(RequestRefused):
    status = 403
    reason = "replayed_nonce"


class BodyTooLarge(RequestRefused):
    status = 413
    reason = "body_too_large"


class BadPayload(RequestRefused):
    status = 400
    reason = "bad_payload"


class BadEncoding(BadPayload):
    reason = "bad_encoding"


class BadField(BadPayload):
    """A field that becomes a number or a stored id does not fit: refused at the edge, so no
    value can fail later in a write that carries other people's data (the users write-behind)."""

    reason = "bad_field"


class TooComplex(BadPayload):
    """Deeper or larger than any WeChat callback; refused while parsing, before it costs memory."""

    reason = "too_complex"


class Unavailable(LongtuanError):
    """Redis or the database cannot be reached right now."""


class LockTimeout(Unavailable):
    """Another message of the same user held the conversation lock for too long."""
