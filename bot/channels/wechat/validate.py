"""Validation at the edge: every query value and every numeric field of a callback, before use.

A value that is checked here cannot fail later, where failing costs more than this request: a
nonce echoed into the encrypted reply's envelope (a NUL made the reply not XML), a timestamp
compared with a float clock (400 digits overflowed it), a CreateTime written behind with other
people's follows (2**63 failed the batch), a ``Scale`` of ``nan`` turned into an int. WeChat
sends each of these in one narrow shape; anything else is refused with its own reason:

- query values that are not short runs of letters and digits: 400 ``bad_query``, before any work;
- a correctly signed timestamp that is not a time: 403 ``bad_timestamp``;
- a field out of its shape or range: 400 ``bad_field``, naming the field (in the log only);
- a body that is not in the Content-Encoding it claims: 400 ``bad_encoding``.

Details name the field and at most a short ``repr`` of the value: logs stay one line, responses
carry only the reason.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from bot.errors import BadEncoding, BadField, BadQuery, BadTimestamp, BodyTooLarge

#: WeChat's nonces are ~10 digits, its console's echostr ~19: 64 and 128 leave room, not 8 KiB.
_NONCE = re.compile(r"[0-9A-Za-z]{1,64}")
_ECHOSTR = re.compile(r"[0-9A-Za-z]{0,128}")
#: The timestamp's alphabet only: its length is judged after the signature (a forged request is
#: reported as forged), and then as a time, with its own 403.
_TIMESTAMP_CHARS = re.compile(r"[0-9A-Za-z]*")
#: Epoch seconds as WeChat sends them: ten digits until the year 2286.
_EPOCH = re.compile(r"[0-9]{1,10}")


def _shown(value: str) -> str:
    """A short, printable rendering of an unvalidated value, for a log line."""
    return repr(value[:24]) + ("…" if len(value) > 24 else "")


def query_values(query: Mapping[str, str]) -> tuple[str, str]:
    """The (timestamp, nonce) of a callback's query, refusing what WeChat never sends.

    ``echostr`` (the console's URL check, echoed back) is held to its shape too when present.
    """
    timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
    if not _NONCE.fullmatch(nonce):
        raise BadQuery(f"nonce {_shown(nonce)} is not a short run of letters and digits")
    if not _TIMESTAMP_CHARS.fullmatch(timestamp):
        raise BadQuery(f"timestamp {_shown(timestamp)} is not letters and digits")
    echostr = query.get("echostr")
    if echostr is not None and not _ECHOSTR.fullmatch(echostr):
        raise BadQuery(f"echostr {_shown(echostr)} is not a short run of letters and digits")
    return timestamp, nonce


def epoch_seconds(timestamp: str) -> int:
    """A signed timestamp as an int, or 403 ``bad_timestamp`` (never an overflow later)."""
    if not _EPOCH.fullmatch(timestamp):
        raise BadTimestamp(f"timestamp {_shown(timestamp)} is not epoch seconds" if timestamp else "timestamp missing")
    return int(timestamp)


@dataclass(frozen=True, slots=True)
class Number:
    """A numeric field: the shape of its text (ASCII only: ``int`` and ``float`` take far more,
    "nan", "1e309", "1_0", Arabic-Indic digits) and the range its value must lie in."""

    shape: re.Pattern[str]
    low: float
    high: float


_UNSIGNED = re.compile(r"[0-9]{1,20}")
_DECIMAL = re.compile(r"[+-]?[0-9]{1,9}(?:\.[0-9]{1,20})?")
#: 2100-01-01: later than any callback this service will see, early enough for any datetime.
#: 0 is what an absent CreateTime means (the pipeline takes its own clock then).
_CREATE_TIME_MAX = 4_102_444_800

#: Every numeric field of the top level, as WeChat documents it. MsgId and MsgID are 64-bit ids
#: (kept as their digits, never a float); the counts are a mass send's.
NUMBERS: dict[str, Number] = {
    "CreateTime": Number(_EPOCH, 0, _CREATE_TIME_MAX),
    "MsgId": Number(_UNSIGNED, 0, 2**64 - 1),
    "MsgID": Number(_UNSIGNED, 0, 2**64 - 1),
    "Location_X": Number(_DECIMAL, -90, 90),
    "Location_Y": Number(_DECIMAL, -180, 180),
    "Latitude": Number(_DECIMAL, -90, 90),
    "Longitude": Number(_DECIMAL, -180, 180),
    # A map's zoom level; WeChat's maps go to about 20.
    "Scale": Number(_DECIMAL, 0, 100),
    # Metres of accuracy: 10,000 km is more than any fix can be off.
    "Precision": Number(_DECIMAL, 0, 10_000_000),
    "TotalCount": Number(_UNSIGNED, 0, 2**32),
    "FilterCount": Number(_UNSIGNED, 0, 2**32),
    "SentCount": Number(_UNSIGNED, 0, 2**32),
    "ErrorCount": Number(_UNSIGNED, 0, 2**32),
}

#: An openid: 28 characters of [0-9A-Za-z_-] today; users.external_id holds 64.
_OPENID = re.compile(r"[0-9A-Za-z_-]{1,64}")
#: A follow through a QR code stores its scene (users.first_scene, 64 characters).
_SCENE_PREFIX, _SCENE_MAX = "qrscene_", 64


def check_fields(fields: Mapping[str, str]) -> None:
    """Refuse with ``BadField`` any numeric field, sender or scene that WeChat cannot have sent.

    Absent fields are not checked here: what a kind requires, ``to_inbound`` asks for.
    """
    for name, value in fields.items():  # a callback has fewer fields than NUMBERS has names
        number = NUMBERS.get(name)
        if number is None:
            continue
        if not number.shape.fullmatch(value):
            raise BadField(f"{name} {_shown(value)} is not a number of its shape")
        # Shapes bound the digits, so both conversions are exact enough and cannot overflow.
        amount = int(value) if number.shape is not _DECIMAL else float(value)
        if not (math.isfinite(amount) and number.low <= amount <= number.high):
            raise BadField(f"{name} {_shown(value)} is outside {number.low:g}..{number.high:g}")
    user = fields.get("FromUserName")
    if user and not _OPENID.fullmatch(user):
        raise BadField(f"FromUserName {_shown(user)} is not an openid")
    key = fields.get("EventKey", "")
    if key.startswith(_SCENE_PREFIX) and len(key) - len(_SCENE_PREFIX) > _SCENE_MAX:
        raise BadField(f"a QR scene of {len(key) - len(_SCENE_PREFIX)} characters")


#: zlib's window bits for each Content-Encoding read: gzip's header and trailer, or the zlib
#: stream that HTTP's "deflate" names.
_CODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def decoded(body: bytes, coding: str, limit: int) -> bytes:
    """The body without its Content-Encoding: ``BadEncoding`` unless it really is in it,
    ``BodyTooLarge`` when it inflates past ``limit`` (never inflated further than that).

    WeChat sends no Content-Encoding. The app reads bodies as sent (``auto_decompress`` off)
    and decodes them here, because aiohttp's own decoding fails twice on a bad one: in the
    handler's read, and again when the server drains the rest of the body after the answer,
    where it logs an unhandled exception for what is the client's error.
    """
    coding = coding.strip().lower()
    if coding in ("", "identity"):
        return body
    wbits = _CODINGS.get(coding)
    if wbits is None:
        raise BadEncoding(f"Content-Encoding {_shown(coding)} is not one this endpoint reads")
    inflate = zlib.decompressobj(wbits)
    try:
        out = inflate.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BadEncoding(f"not {coding}: {exc}") from None
    if len(out) > limit:
        raise BodyTooLarge(f"over {limit} bytes once decoded")
    if not inflate.eof or inflate.unused_data:
        raise BadEncoding(f"not {coding}: {'cut short' if not inflate.eof else 'data after the end'}")
    return out
