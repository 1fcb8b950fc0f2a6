"""Every recorded WeChat payload POSTed through the real HTTP entry: what the follower reads and what is stored."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from bot.channels.wechat.crypto import sign
from bot.channels.wechat.parse import parse_xml
from tests.channels import ACCOUNT, USER, fixture, fixture_names
from tests.conftest import GatewayFactory
from tests.harness import Gateway

MODES = ["plain", "safe", "compat"]
POSTER = "青年夜校报名海报"

#: What the follower reads for each payload: a content key and its parameters, or None for the
#: platform's "success" (nothing shown in the chat).
READS: dict[str, tuple[str, dict[str, str]] | None] = {
    "text": ("faq.night_school.signup", {}),
    "image": ("fallback.media", {}),
    "voice_recognition": ("faq.night_school.signup", {}),
    "voice": ("fallback.voice", {}),
    "video": ("fallback.media", {}),
    "shortvideo": ("fallback.media", {}),
    # A sent location lists the volunteer projects around it (none in an empty database).
    "location": ("volunteer.none_found", {"heading": "你附近的项目（由近到远）："}),
    "link": ("fallback.link", {}),
    "event_subscribe": ("welcome.subscribe", {}),
    "event_subscribe_qrscene": ("welcome.scene", {"scene": POSTER}),
    "event_unsubscribe": None,
    "event_scan": ("welcome.scan", {"scene": POSTER}),
    "event_location": None,
    "event_click": ("courses.menu_empty", {}),  # no classes in the test database
    "event_view": None,
    "event_templatesendjobfinish": None,
    "event_masssendjobfinish": None,
    "event_subscribe_msg_popup": None,
    "event_subscribe_msg_change": None,
    "event_subscribe_msg_sent": None,
}


def token(gateway: Gateway) -> str:
    return gateway.services.settings.wechat_token.get_secret_value()


def assert_sealed(gateway: Gateway, body: str) -> None:
    """The reply travels encrypted: only the envelope is in clear, and its MsgSignature holds."""
    envelope = parse_xml(body)
    assert set(envelope) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    expected = sign(token(gateway), envelope["TimeStamp"], envelope["Nonce"], envelope["Encrypt"])
    assert envelope["MsgSignature"] == expected
    assert USER not in body and "<Content>" not in body


def test_every_fixture_has_an_expected_reply() -> None:
    assert sorted(READS) == fixture_names()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(READS))
async def test_what_the_follower_reads(make_gateway: GatewayFactory, mode: str, name: str) -> None:
    gateway = await make_gateway(mode=mode)
    answer = await gateway.post(fixture(name))
    assert answer.status == 200, answer.body
    reads = READS[name]
    if reads is None:
        assert answer.body == "success"
        return
    key, params = reads
    assert answer.text == gateway.expected(key, **params)
    assert answer.fields["ToUserName"] == USER and answer.fields["FromUserName"] == ACCOUNT
    assert answer.fields["MsgType"] == "text"
    if mode == "plain":
        assert answer.body.startswith("<xml>") and "<Encrypt>" not in answer.body
    else:
        assert "<Encrypt>" in answer.body
        assert_sealed(gateway, answer.body)


async def test_the_scene_title_comes_from_the_scenes_content(gateway: Gateway) -> None:
    assert gateway.services.content.scenes["night_school_poster"] == POSTER
    follow = await gateway.post(fixture("event_subscribe_qrscene"))
    assert f"「{POSTER}」" in follow.text
    scan = await gateway.post(fixture("event_scan"))
    assert f"「{POSTER}」" in scan.text


async def test_the_console_url_check_echoes_echostr(gateway: Gateway) -> None:
    timestamp, nonce, echostr = str(int(time.time())), "1514711492", "7048617826404839424"
    query = {"signature": sign(token(gateway), timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    assert gateway.http is not None
    async with gateway.http.get(gateway.url("/wechat"), params={**query, "echostr": echostr}) as resp:
        assert resp.status == 200
        assert await resp.text() == echostr


async def test_the_url_check_with_a_bad_signature_echoes_nothing(gateway: Gateway) -> None:
    timestamp, nonce, echostr = str(int(time.time())), "1514711492", "7048617826404839424"
    query = {"signature": sign("another-token", timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    assert gateway.http is not None
    async with gateway.http.get(gateway.url("/wechat"), params={**query, "echostr": echostr}) as resp:
        assert resp.status == 403
        assert echostr not in await resp.text()


def at(create_time: int) -> datetime:
    return datetime.fromtimestamp(create_time, UTC)


@pytest.mark.parametrize("mode", MODES)
async def test_a_follow_through_the_poster_then_leaving(make_gateway: GatewayFactory, mode: str) -> None:
    gateway = await make_gateway(mode=mode)
    await gateway.post(fixture("event_subscribe_qrscene"))
    await gateway.flush_users()
    user = await gateway.services.users.get("wechat", USER)
    assert user is not None
    assert user.subscribed and user.first_scene == "night_school_poster"
    assert user.subscribed_at == at(1718159012) and user.unsubscribed_at is None

    await gateway.post(fixture("event_unsubscribe"))
    await gateway.flush_users()
    user = await gateway.services.users.get("wechat", USER)
    assert user is not None
    assert not user.subscribed and user.unsubscribed_at == at(1718159999)
    assert user.first_scene == "night_school_poster"  # attribution outlives the follow


async def test_a_plain_follow_has_no_scene(gateway: Gateway) -> None:
    await gateway.post(fixture("event_subscribe"))
    await gateway.flush_users()
    user = await gateway.services.users.get("wechat", USER)
    assert user is not None
    assert user.subscribed and user.first_scene == "" and user.subscribed_at == at(1718159000)


async def test_a_message_records_the_writer_as_seen(gateway: Gateway) -> None:
    await gateway.post(fixture("text"))
    await gateway.flush_users()
    user = await gateway.services.users.get("wechat", USER)
    assert user is not None and user.channel == "wechat" and user.external_id == USER


async def test_delivery_receipts_are_not_the_user_doing_anything(gateway: Gateway) -> None:
    for name in ("event_templatesendjobfinish", "event_masssendjobfinish", "event_subscribe_msg_sent"):
        assert (await gateway.post(fixture(name))).body == "success"
    await gateway.flush_users()
    assert await gateway.services.users.get("wechat", USER) is None
