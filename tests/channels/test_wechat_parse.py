"""Every recorded WeChat payload becomes the right neutral ``Inbound``, and no MsgId passes through a float."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from bot.channels.wechat.parse import parse_xml, to_inbound
from bot.channels.wechat.webhook import _message
from bot.model import Inbound, Kind, Location
from bot.outbound import Receipt
from tests.channels import ACCOUNT, USER, fixture, fixture_names

TICKET = "gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3TVRtNzJXV1Brb3ZhYmJJAAIEZ23sUwMEmm3sUw=="
TEMPLATE = "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc"


def receipt(kind: str, at: int, key: str, extra: dict[str, str]) -> Receipt:
    return Receipt("wechat", USER, kind, key, at, extra)


def inbound(kind: Kind, created_at: int, raw_type: str, **fields: Any) -> Inbound:
    msg = Inbound(channel="wechat", user_id=USER, bot_id=ACCOUNT, kind=kind, created_at=created_at, raw_type=raw_type)
    return dataclasses.replace(msg, **fields)


EXPECTED: dict[str, Inbound] = {
    "text": inbound(Kind.TEXT, 1718158802, "text", msg_id="24580192749284718", text="夜校怎么报名"),
    "image": inbound(
        Kind.IMAGE,
        1718158815,
        "image",
        msg_id="24580193028175362",
        media_id="Gf8kq2Z3xVbN7mR4tYcP1wL9dS6hJ0aE5uQ_iKoX3nMvB2rT8yW4zC7eH1gF6jD",
        url="http://mmbiz.qpic.cn/mmbiz_jpg/Lq3d8fXwYbVx9TmKcQ2pRz7HnUeJ4sA1/0",
    ),
    # With speech recognition on, what the user said arrives as Recognition and is treated as text.
    "voice_recognition": inbound(
        Kind.VOICE,
        1718158830,
        "voice",
        msg_id="24580193311820546",
        media_id="Vc3nP8xQ2wR5tY7uI9oP1aS4dF6gH8jK0lZ2xC4vB6nM8qW1eR3tY5uI7oP9aS2d",
        text="夜校怎么报名",
        extra={"format": "amr"},
    ),
    "voice": inbound(
        Kind.VOICE,
        1718158841,
        "voice",
        msg_id="24580193477201938",
        media_id="Vd4oQ9yR3xS6uZ8vJ0pQ2bT5eG7hI9kL1mA3yD5wC7oN9rX2fS4uZ6vJ8pQ0bT3e",
        extra={"format": "amr"},
    ),
    "video": inbound(
        Kind.VIDEO,
        1718158856,
        "video",
        msg_id="24580193650931714",
        media_id="Ve5pR0zS4yT7vA9wK1qR3cU6fH8iJ0lM2nB4zE6xD8pO0sY3gT5vA7wK9qR1cU4f",
        extra={"thumb_media_id": "Tm6qS1aT5zU8wB0xL2rS4dV7gI9jK1mN3oC5aF7yE9qP1tZ4hU6wB8xL0rS2dV5g"},
    ),
    "shortvideo": inbound(
        Kind.SHORTVIDEO,
        1718158870,
        "shortvideo",
        msg_id="24580193829148166",
        media_id="Sv7rT2bU6aV9xC1yM3sT5eW8hJ0kL2nO4pD6bG8zF0rQ2uA5iV7xC9yM1sT3eW6h",
        extra={"thumb_media_id": "Ts8sU3cV7bW0yD2zN4tU6fX9iK1lM3oP5qE7cH9aG1sR3vB6jW8yD0zN2tU4fX7i"},
    ),
    # Location_X is the latitude and Location_Y the longitude (the platform's names, not ours).
    "location": inbound(
        Kind.LOCATION,
        1718158884,
        "location",
        msg_id="24580194002716426",
        location=Location(22.720968, 114.246899, scale=15, label="广东省深圳市龙岗区龙城街道龙福路"),
    ),
    "link": inbound(
        Kind.LINK,
        1718158899,
        "link",
        msg_id="24580194187393030",
        title="周末去大运公园跑步吗",
        text="一起来看看这条跑步路线",
        url="https://mp.weixin.qq.com/s/Xq7Lz2Pk9VbN4mTcR8wYdA",
    ),
    "event_subscribe": inbound(Kind.SUBSCRIBE, 1718159000, "event.subscribe"),
    # wechatpy calls this a "subscribe_scan"; it stays a subscribe, with the scene as key.
    "event_subscribe_qrscene": inbound(
        Kind.SUBSCRIBE, 1718159012, "event.subscribe", key="night_school_poster", extra={"ticket": TICKET}
    ),
    "event_unsubscribe": inbound(Kind.UNSUBSCRIBE, 1718159999, "event.unsubscribe"),
    "event_scan": inbound(Kind.SCAN, 1718159120, "event.scan", key="night_school_poster", extra={"ticket": TICKET}),
    "event_location": inbound(
        Kind.REPORT_LOCATION, 1718159134, "event.location", location=Location(22.720968, 114.246899, precision=65.0)
    ),
    "event_click": inbound(Kind.CLICK, 1718159150, "event.click", key="NIGHT_SCHOOL"),
    "event_view": inbound(
        Kind.VIEW,
        1718159163,
        "event.view",
        key="https://example.org/longgang-youth/articles",
        url="https://example.org/longgang-youth/articles",
        extra={"menu_id": "413417786"},
    ),
}

#: Delivery receipts are not messages: the channel hands them to the ledger.
RECEIPTS: dict[str, Receipt] = {
    "event_templatesendjobfinish": receipt(
        "template_sent",
        1718159177,
        key="2912337421874659330",
        extra={"MsgID": "2912337421874659330", "Status": "success"},
    ),
    "event_masssendjobfinish": receipt(
        "mass_sent",
        1718159190,
        key="1000001625",
        extra={
            "MsgID": "1000001625",
            "Status": "send success",
            "TotalCount": "1280",
            "FilterCount": "1275",
            "SentCount": "1270",
            "ErrorCount": "5",
        },
    ),
    # Both templates the user answered in one popup are kept; the second's fields are numbered.
    "event_subscribe_msg_popup": receipt(
        "subscribe_msg_popup",
        1718159204,
        key=TEMPLATE,
        extra={
            "TemplateId": TEMPLATE,
            "SubscribeStatusString": "accept",
            "PopupScene": "2",
            "TemplateId#2": "9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI",
            "SubscribeStatusString#2": "reject",
            "PopupScene#2": "2",
        },
    ),
    "event_subscribe_msg_change": receipt(
        "subscribe_msg_change",
        1718159218,
        key=TEMPLATE,
        extra={"TemplateId": TEMPLATE, "SubscribeStatusString": "reject"},
    ),
    "event_subscribe_msg_sent": receipt(
        "subscribe_msg_sent",
        1718159232,
        key=TEMPLATE,
        extra={"TemplateId": TEMPLATE, "MsgID": "1700827132819554304", "ErrorCode": "0", "ErrorStatus": "success"},
    ),
}

MESSAGES = [name for name in EXPECTED if not name.startswith("event_")]
EVENTS = [name for name in EXPECTED if name.startswith("event_")]


def parsed(name: str) -> Inbound:
    return to_inbound(parse_xml(fixture(name).encode()))


def test_there_is_a_fixture_for_every_kind_the_platform_sends() -> None:
    assert fixture_names() == sorted([*EXPECTED, *RECEIPTS])
    assert {msg.kind for msg in EXPECTED.values()} == set(Kind) - {Kind.UNKNOWN}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_becomes_its_inbound(name: str) -> None:
    assert parsed(name) == EXPECTED[name]
    assert _message(parse_xml(fixture(name).encode())) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(RECEIPTS))
def test_receipt_fixture_becomes_its_receipt(name: str) -> None:
    assert _message(parse_xml(fixture(name).encode())) == RECEIPTS[name]


@pytest.mark.parametrize("name", MESSAGES)
def test_msg_id_keeps_its_exact_digits(name: str) -> None:
    digits = re.search(r"<MsgId>(\d+)</MsgId>", fixture(name))
    assert digits is not None
    msg = parsed(name)
    assert msg.msg_id == digits.group(1)
    assert msg.dedupe_key == f"m:{digits.group(1)}"
    # The fixtures are above 2**53 on purpose: through a float these digits would change.
    assert int(digits.group(1)) > 2**53
    assert int(float(digits.group(1))) != int(digits.group(1))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_float_anywhere_but_coordinates(name: str) -> None:
    msg = parsed(name)
    for f in dataclasses.fields(msg):
        value = getattr(msg, f.name)
        if f.name != "location":
            assert not isinstance(value, float), f.name
    assert isinstance(msg.created_at, int)
    assert all(isinstance(v, str) for v in msg.extra.values())


@pytest.mark.parametrize("name", EVENTS)
def test_events_are_identified_by_user_time_event_and_key(name: str) -> None:
    msg = parsed(name)
    assert msg.msg_id is None and msg.is_event
    assert msg.dedupe_key == f"e:{USER}:{msg.created_at}:{msg.raw_type}:{msg.key}"


def test_two_follows_through_the_same_poster_a_second_apart_are_two_deliveries() -> None:
    first = parsed("event_subscribe_qrscene")
    later = to_inbound(parse_xml(fixture("event_subscribe_qrscene").replace("1718159012", "1718159013")))
    assert first.dedupe_key != later.dedupe_key
    assert first.dedupe_key == f"e:{USER}:1718159012:event.subscribe:night_school_poster"


def test_the_scene_prefix_is_stripped_only_from_a_follow() -> None:
    # A SCAN by someone who already follows carries the bare scene; only a follow has "qrscene_".
    assert parsed("event_scan").key == parsed("event_subscribe_qrscene").key == "night_school_poster"


def test_text_content_is_kept_as_typed() -> None:
    # Leading and trailing spaces survive, and so does "]]>" split across two CDATA sections.
    xml = fixture("text").replace("夜校怎么报名", "  两个空格 ]]]]><![CDATA[> 开头  ")
    assert to_inbound(parse_xml(xml)).text == "  两个空格 ]]> 开头  "
