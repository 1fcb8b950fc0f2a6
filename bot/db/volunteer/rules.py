"""Volunteering rules that need no database: hours rounding, distances, ID numbers."""

from __future__ import annotations

import math
import re
from datetime import datetime
from decimal import Decimal

EARTH_RADIUS_M = 6_371_008.8
#: Metres in a degree of latitude (and of longitude at the equator): the bounding box's scale.
METRES_PER_DEGREE = 111_195.0

_ID_NUMBER = re.compile(r"^\d{17}[\dX]$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def round_hours(seconds: float, half_from_min: int = 15, full_above_min: int = 45) -> Decimal:
    """Hours for ``seconds`` of service: whole hours in full; a remainder under ``half_from_min``
    minutes counts nothing, up to and including ``full_above_min`` half an hour, beyond it an hour.

    With the defaults: 14:59 → 0, 15:00 → 0.5, 45:00 → 0.5, 45:01 → 1.
    """
    whole, rest = divmod(max(0, int(seconds)), 3600)
    if rest < half_from_min * 60:
        part = Decimal(0)
    elif rest <= full_above_min * 60:
        part = Decimal("0.5")
    else:
        part = Decimal(1)
    return Decimal(whole) + part


def clipped_seconds(checked_in: datetime, checked_out: datetime, starts: datetime, ends: datetime) -> float:
    """Seconds served within the shift: the real times clipped to its start and end."""
    begin, end = max(checked_in, starts), min(checked_out, ends)
    return max(0.0, (end - begin).total_seconds())


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (haversine); GCJ-02's offset is the same for both points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat: float, lng: float, radius_m: float) -> tuple[float, float, float, float]:
    """(min lat, max lat, min lng, max lng) enclosing the circle: the index-friendly first filter."""
    dlat = radius_m / METRES_PER_DEGREE
    dlng = radius_m / (METRES_PER_DEGREE * max(0.01, math.cos(math.radians(lat))))
    return lat - dlat, lat + dlat, lng - dlng, lng + dlng


def valid_id_number(value: str) -> bool:
    """A mainland resident ID number: 18 characters with the ISO 7064 check character."""
    value = value.strip().upper()
    if not _ID_NUMBER.match(value):
        return False
    total = sum(int(c) * w for c, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17]


def mask_id(value: str) -> str:
    """An ID number as it may be shown: the first 3 and last 4 characters (440***********123X)."""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def format_hours(hours: Decimal | float | int) -> str:
    """12, 12.5 (never 12.0 or 12.50)."""
    d = Decimal(hours).quantize(Decimal("0.01"))
    text = f"{d:f}".rstrip("0").rstrip(".")
    return text or "0"


def format_distance(metres: float) -> str:
    return f"{round(metres)}米" if metres < 1000 else f"{metres / 1000:.1f}公里"
