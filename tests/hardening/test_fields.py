"""Findings 2 and 3: every numeric field (and each stored id) is held to its shape and range at
the edge, refused with 400 ``bad_field``, so no value can fail later in the write-behind."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from tests.channels import USER, fixture, restamp
from tests.conftest import GatewayFactory
from tests.hardening.support import expect_refused, now, plain, post, sealed
from tests.harness import Gateway


@pytest.fixture(autouse=True)
def capture_everything(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def with_field(name: str, field: str, value: str) -> str:
    """Fixture ``name`` (sent now) with ``field``'s text replaced by ``value``, CDATA kept if it had one."""
    xml = restamp(fixture(name), create_time=int(now()))

    def put(match: re.Match[str]) -> str:
        inner = f"<![CDATA[{value}]]>" if match.group(1).startswith("<![CDATA[") else value
        return f"<{field}>{inner}</{field}>"

    replaced, count = re.subn(rf"<{field}>(.*?)</{field}>", put, xml, flags=re.DOTALL)
    assert count == 1, f"{field} not in {name}"
    return replaced


CASES = [
    ("event_subscribe", "CreateTime", str(2**63)),
    ("event_subscribe", "CreateTime", "4102444801"),
    ("text", "CreateTime", "yesterday"),
    ("text", "CreateTime", ""),
    ("text", "CreateTime", "-5"),
    ("text", "CreateTime", "1.7e9"),
    ("text", "CreateTime", "１７１８１５９０００"),  # full-width digits: int() would take them
    ("text", "CreateTime", "1_718_159_000"),  # and these
    ("text", "MsgId", "24580192749284718x"),
    ("text", "MsgId", "9" * 25),
    ("text", "MsgId", "-1"),
    ("location", "Scale", "nan"),
    ("location", "Scale", "1e309"),
    ("location", "Scale", "9" * 400),
    ("location", "Scale", "-1"),
    ("location", "Scale", "101"),
    ("location", "Location_X", "north"),
    ("location", "Location_X", "inf"),
    ("location", "Location_X", "91"),
    ("location", "Location_Y", "-180.5"),
    ("location", "Location_Y", "NaN"),
    ("event_location", "Latitude", "nan"),
    ("event_location", "Longitude", "1e309"),
    ("event_location", "Precision", "-1"),
    ("event_location", "Precision", "inf"),
    ("event_location", "Precision", "9" * 400),
    ("event_masssendjobfinish", "TotalCount", "lots"),
    ("event_masssendjobfinish", "MsgID", "1e3"),
    ("text", "FromUserName", "o" * 65),
    ("text", "FromUserName", "o-有中文"),
    ("text", "FromUserName", "o user"),
    ("event_subscribe_qrscene", "EventKey", "qrscene_" + "x" * 65),
]


@pytest.mark.parametrize(("name", "field", "value"), CASES, ids=[f"{n}-{f}-{v[:12]}" for n, f, v in CASES])
async def test_a_field_out_of_its_shape_or_range_is_400_bad_field(
    gateway: Gateway, caplog: pytest.LogCaptureFixture, name: str, field: str, value: str
) -> None:
    # Each of "nan", "1e309" and 400 digits used to fail as an internal error answered "success".
    query, body = plain(with_field(name, field, value))
    await expect_refused(gateway, caplog, query, body, status=400, reason="bad_field", user=USER)


async def test_the_same_inside_safe_mode(make_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture) -> None:
    gateway = await make_gateway(mode="safe")
    query, body = sealed(with_field("location", "Scale", "nan"))
    await expect_refused(gateway, caplog, query, body, status=400, reason="bad_field", user=USER)


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("location", "Scale", "15.0"),
        ("location", "Location_X", "-22.5"),
        ("event_location", "Precision", "0"),
        ("text", "CreateTime", "0"),  # an absent time: the pipeline takes its own clock
        ("text", "MsgId", "18446744073709551615"),  # 2**64 - 1
    ],
)
async def test_values_in_range_still_pass(gateway: Gateway, name: str, field: str, value: str) -> None:
    answer = await post(gateway, *plain(with_field(name, field, value)))
    assert answer.status == 200


async def test_a_follow_with_an_absurd_create_time_takes_no_one_else_down(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    """Finding 2 end to end: the bad follow is refused at the edge; the follows beside it are kept."""
    bad = restamp(fixture("event_subscribe"), create_time=2**63, user="o-bad-follow")
    others = [restamp(fixture("event_subscribe"), create_time=int(now()), user=f"o-good-follow-{i}") for i in range(5)]
    answers = await asyncio.gather(*(post(gateway, *plain(xml, nonce=f"{i}x")) for i, xml in enumerate([bad, *others])))
    assert [a.status for a in answers] == [400] + [200] * 5
    assert answers[0].text == "bad_field"
    await gateway.flush_users()
    users = gateway.services.users
    assert await users.get("wechat", "o-bad-follow") is None
    for i in range(5):
        row = await users.get("wechat", f"o-good-follow-{i}")
        assert row is not None and row.subscribed and row.subscribed_at is not None
    assert not users.rejected
