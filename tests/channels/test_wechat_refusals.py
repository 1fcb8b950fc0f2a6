"""Every way the WeChat endpoint refuses a request: the status, the count, the one log line, and nothing handled."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable

import pytest

from bot.app import create_app
from bot.channels.wechat.crypto import SafeMode, sign
from bot.channels.wechat.parse import parse_xml
from bot.channels.wechat.simulator import Answer, WeChatSimulator
from bot.context import Context
from bot.logs import JsonFormatter, TextFormatter
from bot.model import Inbound, Reply
from bot.router import Router
from tests.channels import ACCOUNT, USER, fixture, metric, restamp
from tests.conftest import AES_KEY, APP_ID, SECRET, TOKEN, GatewayFactory, make_settings, shared_content
from tests.fakes.wechat_api import FakeWeChatAPI
from tests.harness import Gateway

MAX_BODY = 64 * 1024
NEIGHBOUR_APP_ID = "wx9a8b7c6d5e4f3a21"

BILLION_LAUGHS = f"""<?xml version="1.0"?>
<!DOCTYPE xml [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<xml>
  <ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>
  <FromUserName><![CDATA[{USER}]]></FromUserName>
  <CreateTime>1718158802</CreateTime>
  <MsgType><![CDATA[text]]></MsgType>
  <Content>&lol9;</Content>
  <MsgId>24580192749284718</MsgId>
</xml>
"""

EXTERNAL_ENTITY = f"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<xml>
  <ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>
  <FromUserName><![CDATA[{USER}]]></FromUserName>
  <CreateTime>1718158802</CreateTime>
  <MsgType><![CDATA[text]]></MsgType>
  <Content>&secret;</Content>
  <MsgId>24580192749284718</MsgId>
</xml>
"""


def refusals_logged(caplog: pytest.LogCaptureFixture, since: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records[since:] if r.name == "longtuan.wechat" and hasattr(r, "reason")]


def assert_no_secrets(caplog: pytest.LogCaptureFixture) -> None:
    """Neither the token, the app secret nor the AES key, in any logger, in any format."""
    json_lines, text_lines = JsonFormatter(), TextFormatter()
    for record in caplog.records:
        for line in (json_lines.format(record), text_lines.format(record), json.dumps(vars(record), default=str)):
            for secret in (TOKEN, SECRET, AES_KEY):
                assert secret not in line, f"a secret in the log of {record.name}: {record.getMessage()}"


@pytest.fixture(autouse=True)
def capture_everything(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


async def expect_refused(
    gateway: Gateway,
    caplog: pytest.LogCaptureFixture,
    send: Awaitable[Answer],
    *,
    status: int,
    reason: str,
    user: str = USER,
) -> str:
    """Send one request and check the whole refusal: answer, metric, one log line, nothing handled.

    Returns the logged detail (why exactly), for the cases that care which check caught it.
    """
    before = await metric(gateway, "longtuan_refusals_total", channel="wechat", reason=reason)
    refused = await metric(gateway, "longtuan_requests_total", channel="wechat", outcome="refused")
    since = len(caplog.records)
    answer = await send
    assert (answer.status, answer.body) == (status, reason)
    assert await metric(gateway, "longtuan_refusals_total", channel="wechat", reason=reason) == before + 1
    assert await metric(gateway, "longtuan_requests_total", channel="wechat", outcome="refused") == refused + 1
    logged = refusals_logged(caplog, since)
    assert [getattr(r, "reason", None) for r in logged] == [reason]
    await gateway.flush_users()
    assert await gateway.services.users.get("wechat", user) is None, "a refused request reached the pipeline"
    assert_no_secrets(caplog)
    return str(getattr(logged[0], "detail", ""))


def sealed(
    xml: str, *, app_id: str = APP_ID, timestamp: str | None = None, nonce: str = "1320562132"
) -> tuple[dict[str, str], bytes]:
    """A safe-mode request built by hand (the simulator parses the plaintext first; a bomb must not be)."""
    timestamp = timestamp or str(int(time.time()))
    envelope = parse_xml(SafeMode(TOKEN, AES_KEY, app_id).encrypt(xml, timestamp, nonce))
    return envelope_request(envelope["Encrypt"], timestamp, nonce)


def envelope_request(encrypted: str, timestamp: str, nonce: str) -> tuple[dict[str, str], bytes]:
    """The query and body WeChat sends for one ciphertext, with a valid signature and msg_signature."""
    query = {
        "signature": sign(TOKEN, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": sign(TOKEN, timestamp, nonce, encrypted),
    }
    body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    return query, body.encode()


# --- signatures and time ----------------------------------------------------------------------------


async def test_a_forged_signature(gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    query, body = gateway.sim.signed(fixture("text"))
    query["signature"] = sign("a-guessed-token", query["timestamp"], query["nonce"])
    await expect_refused(gateway, caplog, gateway.sim.post_raw(query, body), status=403, reason="bad_signature")


async def test_a_missing_signature(gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    query, body = gateway.sim.signed(fixture("text"))
    del query["signature"]
    await expect_refused(gateway, caplog, gateway.sim.post_raw(query, body), status=403, reason="bad_signature")


@pytest.mark.parametrize("offset", [-3600, -400, +400], ids=["an-hour-old", "just-too-old", "from-the-future"])
async def test_a_timestamp_outside_the_replay_window(
    gateway: Gateway, caplog: pytest.LogCaptureFixture, offset: int
) -> None:
    # Correctly signed, but for another time: a captured request played back later.
    query, body = gateway.sim.signed(fixture("text"), timestamp=str(int(time.time()) + offset))
    await expect_refused(gateway, caplog, gateway.sim.post_raw(query, body), status=403, reason="stale_timestamp")


async def test_a_timestamp_inside_the_window_is_fine(gateway: Gateway) -> None:
    query, body = gateway.sim.signed(fixture("text"), timestamp=str(int(time.time()) - 200))
    answer = await gateway.sim.post_raw(query, body)
    assert answer.status == 200 and answer.text == gateway.expected("faq.night_school.signup")


async def test_with_the_window_off_an_old_timestamp_is_accepted(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(wechat_replay_window=0)
    query, body = gateway.sim.signed(fixture("text"), timestamp=str(int(time.time()) - 3600))
    answer = await gateway.sim.post_raw(query, body)
    assert answer.status == 200 and answer.text == gateway.expected("faq.night_school.signup")
    assert await metric(gateway, "longtuan_refusals_total", channel="wechat", reason="stale_timestamp") == 0


async def test_a_replayed_signature_with_another_body(gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    # Plain mode signs (token, timestamp, nonce) only: the body is not covered by the signature.
    query, body = gateway.sim.signed(fixture("text"))
    first = await gateway.sim.post_raw(query, body)
    assert first.status == 200 and first.text == gateway.expected("faq.night_school.signup")

    # The same request again is WeChat retrying: the same reply, from the de-duplication.
    retry = await gateway.sim.post_raw(query, body)
    assert (retry.status, retry.body) == (200, first.body)
    assert await metric(gateway, "longtuan_duplicate_deliveries_total") == 1

    # The same signature over a body of someone else's making is refused.
    forged = restamp(fixture("text"), msg_id="24580199999999998", user="o-somebody-else")
    await expect_refused(
        gateway,
        caplog,
        gateway.sim.post_raw(query, forged.encode()),
        status=403,
        reason="replayed_nonce",
        user="o-somebody-else",
    )


async def url_check(gateway: Gateway, query: dict[str, str]) -> Answer:
    """The WeChat console's GET, which must echo ``echostr`` only to the real platform."""
    assert gateway.http is not None
    async with gateway.http.get(gateway.url("/wechat"), params={**query, "echostr": "7048617826404839424"}) as resp:
        return Answer(resp.status, await resp.text(), {})


async def test_a_url_check_with_a_forged_signature(gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    query, _ = gateway.sim.signed("<xml/>")
    query["signature"] = sign("a-guessed-token", query["timestamp"], query["nonce"])
    await expect_refused(gateway, caplog, url_check(gateway, query), status=403, reason="bad_signature")


async def test_a_stale_url_check(gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    query, _ = gateway.sim.signed("<xml/>", timestamp=str(int(time.time()) - 3600))
    await expect_refused(gateway, caplog, url_check(gateway, query), status=403, reason="stale_timestamp")


# --- hostile and broken XML -------------------------------------------------------------------------


async def test_an_entity_bomb_is_never_expanded(gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    query, body = gateway.sim.signed(BILLION_LAUGHS)
    post = gateway.sim.post_raw(query, body)
    detail = await expect_refused(gateway, caplog, post, status=400, reason="bad_payload")
    # Expanded, &lol9; would be 3 GB of "lol": the refusal names the DOCTYPE, met before any entity.
    # (No timing assertion: speed belongs in bench/, and a loaded VM made it flaky.)
    assert detail.startswith("forbidden XML construct")


async def test_an_entity_bomb_inside_the_ciphertext(
    make_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = await make_gateway(mode="safe")
    query, body = sealed(BILLION_LAUGHS)
    post = gateway.sim.post_raw(query, body)
    detail = await expect_refused(gateway, caplog, post, status=400, reason="bad_payload")
    assert detail.startswith("forbidden XML construct")


async def test_an_external_entity(gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    query, body = gateway.sim.signed(EXTERNAL_ENTITY)
    detail = await expect_refused(gateway, caplog, gateway.sim.post_raw(query, body), status=400, reason="bad_payload")
    assert detail.startswith("forbidden XML construct")
    assert "root:" not in caplog.text  # /etc/passwd was never read


def oversize_xml() -> str:
    return fixture("text").replace("夜校怎么报名", "长" * (MAX_BODY // 3 + 100))


async def test_an_oversize_body_with_content_length(gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    query, body = gateway.sim.signed(oversize_xml())
    assert len(body) > MAX_BODY
    await expect_refused(gateway, caplog, gateway.sim.post_raw(query, body), status=413, reason="body_too_large")


async def post_chunked(gateway: Gateway, query: dict[str, str], body: bytes) -> Answer:
    """POST with Transfer-Encoding: chunked, so the size is only known by reading."""

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 4096):
            yield body[i : i + 4096]

    assert gateway.http is not None
    async with gateway.http.post(gateway.url("/wechat"), params=query, data=chunks()) as resp:
        assert resp.request_info.headers.get("Transfer-Encoding") == "chunked"
        text = await resp.text()
        return Answer(resp.status, text, gateway.sim.read_reply(text) if resp.status == 200 else {})


async def test_an_oversize_body_sent_chunked(gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    query, body = gateway.sim.signed(oversize_xml())
    await expect_refused(gateway, caplog, post_chunked(gateway, query, body), status=413, reason="body_too_large")


async def test_a_small_body_sent_chunked_is_fine(gateway: Gateway) -> None:
    query, body = gateway.sim.signed(fixture("text"))
    answer = await post_chunked(gateway, query, body)
    assert answer.status == 200 and answer.text == gateway.expected("faq.night_school.signup")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"this is not XML at all",
        b"<xml><ToUserName>gh_longtuan</ToUserName>",
        b'{"ToUserName": "gh_longtuan", "MsgType": "text"}',
        fixture("text").replace("<xml>", "<message>").replace("</xml>", "</message>").encode(),
        fixture("text").replace(f"<FromUserName><![CDATA[{USER}]]></FromUserName>", "").encode(),
    ],
    ids=[
        "empty",
        "not-xml",
        "truncated",
        "json",
        "root-not-xml",
        "no-sender",
    ],
)
async def test_a_body_that_is_not_a_wechat_message(
    gateway: Gateway, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    # Numbers that are not numbers are refused as "bad_field": tests/hardening/test_fields.py.
    query, _ = gateway.sim.signed(fixture("text"))
    await expect_refused(gateway, caplog, gateway.sim.post_raw(query, body), status=400, reason="bad_payload")


# --- safe mode --------------------------------------------------------------------------------------


async def test_safe_mode_with_a_forged_msg_signature(
    make_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = await make_gateway(mode="safe")
    query, body = gateway.sim.signed(fixture("text"))
    query["msg_signature"] = sign(TOKEN, query["timestamp"], query["nonce"], "another ciphertext")
    await expect_refused(gateway, caplog, gateway.sim.post_raw(query, body), status=403, reason="bad_signature")


@pytest.mark.parametrize(
    "garbage",
    [base64.b64encode(bytes(range(64))).decode(), "这不是密文", base64.b64encode(b"short").decode()],
    ids=["random-blocks", "not-base64", "not-a-block"],
)
async def test_safe_mode_with_garbage_under_a_valid_msg_signature(
    make_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture, garbage: str
) -> None:
    gateway = await make_gateway(mode="safe")
    query, body = envelope_request(garbage, str(int(time.time())), "1320562132")
    detail = await expect_refused(gateway, caplog, gateway.sim.post_raw(query, body), status=400, reason="bad_payload")
    assert detail.startswith("cannot decrypt")


async def test_safe_mode_encrypted_for_another_app(
    make_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # Same token and key (a copied configuration), but the ciphertext names another app id.
    gateway = await make_gateway(mode="safe")
    query, body = sealed(fixture("text"), app_id=NEIGHBOUR_APP_ID)
    detail = await expect_refused(gateway, caplog, gateway.sim.post_raw(query, body), status=400, reason="bad_payload")
    assert detail == "encrypted for another app id"


async def test_an_encrypted_message_without_an_aes_key_configured(
    make_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = await make_gateway(wechat_aes_key=None)
    assert gateway.http is not None
    platform = WeChatSimulator(gateway.http, gateway.url("/wechat"), TOKEN, app_id=APP_ID, aes_key=AES_KEY, mode="safe")
    query, body = platform.signed(fixture("text"))
    await expect_refused(gateway, caplog, gateway.sim.post_raw(query, body), status=400, reason="bad_payload")


async def test_a_plain_post_when_safe_mode_is_configured(
    make_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = await make_gateway(wechat_allow_plain=False)
    query, body = gateway.sim.signed(fixture("text"))
    detail = await expect_refused(gateway, caplog, gateway.sim.post_raw(query, body), status=400, reason="bad_payload")
    assert detail.startswith("plain message refused")


@pytest.mark.parametrize("mode", ["safe", "compat"])
async def test_encrypted_posts_still_pass_when_plain_is_refused(make_gateway: GatewayFactory, mode: str) -> None:
    gateway = await make_gateway(mode=mode, wechat_allow_plain=False)
    answer = await gateway.post(fixture("text"))
    assert answer.status == 200 and answer.text == gateway.expected("faq.night_school.signup")


# --- what is not refused ----------------------------------------------------------------------------

MINIPROGRAM_PAGE = f"""<xml>
  <ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>
  <FromUserName><![CDATA[{USER}]]></FromUserName>
  <CreateTime>1718160001</CreateTime>
  <MsgType><![CDATA[miniprogrampage]]></MsgType>
  <MsgId>24580199120034562</MsgId>
  <Title><![CDATA[龙岗青年小程序]]></Title>
  <AppId><![CDATA[wx1234567890abcdef]]></AppId>
  <PagePath><![CDATA[pages/index/index]]></PagePath>
  <ThumbUrl><![CDATA[http://mmbiz.qpic.cn/mmbiz_jpg/thumb/0]]></ThumbUrl>
  <ThumbMediaId><![CDATA[Th9tV4dW8cX1zE3aO5uV7gY0jL2mN4pQ6rF8dI0bH2tS4wC7kX9zE1aO3uV5gY8j]]></ThumbMediaId>
</xml>
"""

WEAPP_AUDIT_SUCCESS = f"""<xml>
  <ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>
  <FromUserName><![CDATA[{USER}]]></FromUserName>
  <CreateTime>1718160002</CreateTime>
  <MsgType><![CDATA[event]]></MsgType>
  <Event><![CDATA[weapp_audit_success]]></Event>
  <SuccTime>1718160002</SuccTime>
</xml>
"""


@pytest.mark.parametrize("mode", ["plain", "safe"])
@pytest.mark.parametrize(
    ("xml", "type_label"),
    [(MINIPROGRAM_PAGE, "miniprogrampage"), (WEAPP_AUDIT_SUCCESS, "event.weapp_audit_success")],
    ids=["miniprogrampage", "weapp_audit_success"],
)
async def test_an_unknown_type_is_answered_success_and_counted(
    make_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture, mode: str, xml: str, type_label: str
) -> None:
    gateway = await make_gateway(mode=mode)
    answer = await gateway.post(xml)
    assert (answer.status, answer.body) == (200, "success")
    assert await metric(gateway, "longtuan_unknown_types_total", type=type_label) == 1
    assert await metric(gateway, "longtuan_requests_total", channel="wechat", outcome="unknown") == 1
    assert refusals_logged(caplog, 0) == []
    unknown = [r for r in caplog.records if r.name == "longtuan.wechat" and r.getMessage() == "unknown message type"]
    assert [getattr(r, "type", None) for r in unknown] == [type_label]
    await gateway.flush_users()
    assert await gateway.services.users.get("wechat", USER) is None
    assert_no_secrets(caplog)


TRICKY = "a ]]> b <xml>"


@pytest.mark.parametrize("mode", ["plain", "safe", "compat"])
async def test_a_reply_quoting_a_cdata_terminator_stays_well_formed(
    redis_prefix: str, clean_db: None, fake_wechat: FakeWeChatAPI, mode: str
) -> None:
    # make_gateway passes its keywords to Settings, so a custom router needs its own app.
    echo = Router("tricky")

    @echo.on()
    async def tricky(msg: Inbound, ctx: Context) -> Reply:
        return Reply(text=TRICKY)

    content, analyzer = shared_content()
    settings = make_settings(redis_prefix, fake_wechat.base_url)
    app = create_app(settings, content=content, analyzer=analyzer, router=echo)
    gateway = await Gateway(app, fake_wechat, mode).start()
    try:
        answer = await gateway.post(fixture("text"))
        assert answer.status == 200
        # read_reply parsed the body (and in safe mode the decrypted reply) as XML: it is well-formed.
        assert answer.text == TRICKY
        assert answer.fields["ToUserName"] == USER and answer.fields["MsgType"] == "text"
    finally:
        await gateway.close()


async def test_an_entity_bomb_around_the_safe_mode_envelope(
    make_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The envelope's fast path accepts only the canonical shape; a DOCTYPE goes to the parser and is refused."""
    gateway = await make_gateway(mode="safe")
    query, body = gateway.sim.signed(fixture("text"))
    head = BILLION_LAUGHS.split("<xml>")[0].encode()
    detail = await expect_refused(
        gateway, caplog, gateway.sim.post_raw(query, head + body), status=400, reason="bad_payload"
    )
    assert detail.startswith("forbidden XML construct")


async def test_a_safe_mode_envelope_in_another_layout_still_passes(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(mode="safe")
    query, body = gateway.sim.signed(restamp(fixture("text")))
    encrypted = parse_xml(body)["Encrypt"]
    # Elements swapped, attributes, an XML declaration: not the fast path's shape, still valid XML.
    other = (
        f'<?xml version="1.0" encoding="utf-8"?><xml><Encrypt a="1"><![CDATA[{encrypted}]]></Encrypt>'
        f"<ToUserName>{ACCOUNT}</ToUserName></xml>"
    ).encode()
    answer = await gateway.sim.post_raw(query, other)
    assert answer.status == 200 and answer.text
