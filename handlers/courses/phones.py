"""Mobile numbers the night school accepts: mainland China, Hong Kong and Macau."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-()（）]")
_MAINLAND = re.compile(r"(?:\+?86)?(1[3-9]\d{9})")
_HONG_KONG = re.compile(r"(\+?852)?([569]\d{7})")
_MACAU = re.compile(r"(\+?853)(6\d{7})")


def normalise_mobile(said: str) -> str | None:
    """The number as kept, or None when it is none of the three formats.

    Mainland: 11 digits 1[3-9]…, an optional +86 dropped. Hong Kong: 8 digits starting 5, 6 or 9;
    Macau: 8 digits starting 6. With +852 / +853 (or 852 / 853) the region is kept as +852… /
    +853…; 8 bare digits starting 6 could be either, so they are kept as typed.
    """
    raw = _SEPARATORS.sub("", said.strip()).replace("＋", "+")
    raw = raw.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if m := _MAINLAND.fullmatch(raw):
        return m.group(1)
    if m := _MACAU.fullmatch(raw):
        return "+853" + m.group(2)
    if m := _HONG_KONG.fullmatch(raw):
        return "+852" + m.group(2) if m.group(1) else m.group(2)
    return None


def masked(mobile: str) -> str:
    """138****8000: enough to recognise one's number, not enough to read it off a screen."""
    return mobile[:-8] + "****" + mobile[-4:] if len(mobile) >= 8 else mobile
