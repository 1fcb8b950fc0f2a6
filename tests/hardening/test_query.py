"""Finding 1 (and the timestamp of finding 3): query values are held to WeChat's shapes before
any work, never echoed unvalidated, and a signed timestamp that is no time gets its own 403."""

from __future__ import annotations

import logging

import pytest

from bot.channels.wechat.crypto import sign
from bot.channels.wechat.parse import parse_xml
from tests.channels import USER, fixture, restamp
from tests.conftest import TOKEN, GatewayFactory
from tests.hardening.support import expect_refused, get, now, plain, post, sealed
from tests.harness import Gateway


@pytest.fixture(autouse=True)
def capture_everything(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def text_now(msg_id: str = "24580192749284718") -> str:
    return restamp(fixture("text"), create_time=int(now()), msg_id=msg_id)


BAD_NONCES = ["\x00", "%00", "1320562132\x00", "abc]]>def", "<Nonce>", "13205 62132", "一二三", "9" * 65, ""]


@pytest.mark.parametrize(
    "nonce", BAD_NONCES, ids=["nul", "percent", "nul-after", "cdata-end", "markup", "space", "cjk", "long", "empty"]
)
async def test_a_signed_callback_with_a_bad_nonce_is_refused_before_any_work(
    make_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture, nonce: str
) -> None:
    # The platform signs what it sends; a proxy or an attacker with the token could sign anything.
    gateway = await make_gateway(mode="safe")
    query, body = sealed(text_now(), nonce=nonce)
    # The answer is the reason alone: nothing of the query is echoed.
    await expect_refused(gateway, caplog, query, body, status=400, reason="bad_query", user=USER)


async def test_an_accepted_nonce_comes_back_in_a_well_formed_sealed_reply(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(mode="safe")
    query, body = sealed(text_now(), nonce="Ab3Zx9")
    answer = await post(gateway, query, body)
    assert answer.status == 200
    envelope = parse_xml(answer.body)  # well-formed
    assert envelope["Nonce"] == "Ab3Zx9"
    assert envelope["MsgSignature"] == sign(TOKEN, envelope["TimeStamp"], "Ab3Zx9", envelope["Encrypt"])


@pytest.mark.parametrize("timestamp", ["17181588\x0002", "1718158802 ", "-1718158802", "1.7e9", "１７１８"])
async def test_a_timestamp_that_is_not_letters_and_digits_is_a_bad_query(
    gateway: Gateway, caplog: pytest.LogCaptureFixture, timestamp: str
) -> None:
    query, body = plain(text_now(), timestamp=timestamp)
    await expect_refused(gateway, caplog, query, body, status=400, reason="bad_query", user=USER)


@pytest.mark.parametrize("mode", ["plain", "safe"])
async def test_a_correctly_signed_400_digit_timestamp_is_403_bad_timestamp(
    make_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    # It used to overflow the float clock inside the window check: "success", as an internal error.
    gateway = await make_gateway(mode=mode)
    build = sealed if mode == "safe" else plain
    query, body = build(text_now(), timestamp="9" * 400)
    await expect_refused(gateway, caplog, query, body, status=403, reason="bad_timestamp", user=USER)


@pytest.mark.parametrize("timestamp", ["", "17181588o2", "99999999999"], ids=["missing", "letter", "eleven-digits"])
async def test_other_signed_timestamps_that_are_no_time(
    gateway: Gateway, caplog: pytest.LogCaptureFixture, timestamp: str
) -> None:
    query, body = plain(text_now(), timestamp=timestamp)
    await expect_refused(gateway, caplog, query, body, status=403, reason="bad_timestamp", user=USER)


async def test_with_the_window_off_a_400_digit_timestamp_is_still_refused(
    make_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = await make_gateway(wechat_replay_window=0)
    query, body = plain(text_now(), timestamp="9" * 400)
    await expect_refused(gateway, caplog, query, body, status=403, reason="bad_timestamp", user=USER)


async def test_a_forged_400_digit_timestamp_is_reported_as_forged(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    query, body = plain(text_now(), timestamp="9" * 400)
    query["signature"] = sign("a-guessed-token", query["timestamp"], query["nonce"])
    await expect_refused(gateway, caplog, query, body, status=403, reason="bad_signature", user=USER)


async def test_the_url_check_never_echoes_an_echostr_of_another_shape(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    timestamp, nonce = now(), "1514711492"
    query = {"signature": sign(TOKEN, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    answer = await expect_refused(
        gateway, caplog, {**query, "echostr": "<script>alert(1)</script>"}, status=400, reason="bad_query", method="GET"
    )
    assert b"script" not in answer.body
    good = await get(gateway, {**query, "echostr": "7048617826404839424"})
    assert (good.status, good.text) == (200, "7048617826404839424")


async def test_a_url_check_with_a_bad_nonce(gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    timestamp, nonce = now(), "15147\x0011492"
    query = {"signature": sign(TOKEN, timestamp, nonce), "timestamp": timestamp, "nonce": nonce, "echostr": "70486"}
    await expect_refused(gateway, caplog, query, status=400, reason="bad_query", method="GET")
