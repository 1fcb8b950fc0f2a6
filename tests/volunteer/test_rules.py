"""Hours rounding at its edges, distances, ID numbers: the rules that need no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.db.volunteer.rules import (
    bounding_box,
    clipped_seconds,
    distance_m,
    format_hours,
    mask_id,
    round_hours,
    valid_id_number,
)
from bot.errors import ConfigError
from bot.settings import Settings, load_settings


@pytest.mark.parametrize(
    ("minutes", "seconds", "hours"),
    [
        (0, 0, "0"),
        (14, 59, "0"),
        (15, 0, "0.5"),
        (45, 0, "0.5"),
        (45, 1, "1"),
        (60, 0, "1"),
        (120 + 14, 59, "2"),
        (120 + 15, 0, "2.5"),
        (120 + 45, 0, "2.5"),
        (120 + 45, 1, "3"),
    ],
)
def test_rounding_edges(minutes: int, seconds: int, hours: str) -> None:
    assert round_hours(minutes * 60 + seconds) == Decimal(hours)


def test_rounding_follows_the_settings() -> None:
    assert round_hours(10 * 60, 10, 50) == Decimal("0.5")
    assert round_hours(50 * 60 + 1, 10, 50) == Decimal(1)
    with pytest.raises(ConfigError, match="HALF_HOUR_FROM"):
        load_settings({"LONGTUAN_VOLUNTEER_HALF_HOUR_FROM": "50", "LONGTUAN_VOLUNTEER_FULL_HOUR_ABOVE": "40"}, None)
    assert Settings().volunteer_half_hour_from == 15


def test_times_are_clipped_to_the_shift() -> None:
    start = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    end = start + timedelta(hours=3)
    early, late = start - timedelta(minutes=40), end + timedelta(hours=2)
    assert clipped_seconds(early, late, start, end) == 3 * 3600
    assert clipped_seconds(start + timedelta(minutes=10), start + timedelta(minutes=70), start, end) == 3600
    assert clipped_seconds(late, late + timedelta(hours=1), start, end) == 0


def test_distance_between_real_places() -> None:
    # 龙岗区政府 (22.7208, 114.2469) to 大运中心 (22.6964, 114.2140): about 4.2 km.
    d = distance_m(22.7208, 114.2469, 22.6964, 114.2140)
    assert 4000 < d < 4400
    assert distance_m(22.7, 114.2, 22.7, 114.2) == 0
    lat_lo, lat_hi, lng_lo, lng_hi = bounding_box(22.7208, 114.2469, 5000)
    assert lat_lo < 22.6964 < lat_hi and lng_lo < 114.2140 < lng_hi
    # The box encloses the circle: a point 5 km due east is inside it.
    assert distance_m(22.7208, 114.2469, 22.7208, lng_hi) == pytest.approx(5000, rel=0.01)


def test_id_numbers() -> None:
    assert valid_id_number("11010519491231002X")
    assert not valid_id_number("11010519491231002Y")
    assert not valid_id_number("110105194912310021")
    assert not valid_id_number("1101051949")
    assert mask_id("11010519491231002X") == "110***********002X"
    assert "19491231" not in mask_id("11010519491231002X")


def test_hours_read_plainly() -> None:
    assert format_hours(Decimal("12.50")) == "12.5"
    assert format_hours(Decimal("3.00")) == "3"
    assert format_hours(Decimal(0)) == "0"
    assert format_hours(Decimal("-1.5")) == "-1.5"
