"""Mutated, correctly signed callbacks through the real app: never a 5xx, never an internal error,
every 200 an empty answer, ``success`` or a well-formed reply, every refusal with its reason.

Seeded (``derandomize``): every run sends the same 150 requests, so a failure is
reproduced by running the test again; hypothesis then shrinks it to the smallest mutation.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from bot.channels.wechat.crypto import SafeMode, sign
from bot.errors import RequestRefused
from tests.channels import fixture, fixture_names
from tests.conftest import AES_KEY, APP_ID, TOKEN, GatewayFactory
from tests.hardening.support import now, post
from tests.harness import Gateway

_msg_ids = itertools.count(25_000_000_000_000_000)
_nonces = itertools.count(1_000_000_000)


def reasons() -> dict[str, int]:
    """Every refusal reason the service has, with its HTTP status."""
    found: dict[str, int] = {}
    todo: list[type[RequestRefused]] = [RequestRefused]
    while todo:
        cls = todo.pop()
        found[cls.reason] = cls.status
        todo.extend(cls.__subclasses__())
    return found


REASONS = reasons()
NAMES = fixture_names()

#: Values that broke something once, or could: non-finite numbers, overflowing ones, markup,
#: the CDATA terminator, control characters, long runs.
NASTY = st.one_of(
    st.sampled_from(
        ["nan", "NaN", "inf", "-inf", "1e309", "9" * 400, str(2**63), "-1", "0", "", "]]>", "\x00", "&amp;", "<a>"]
    ),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(st.characters(codec="utf-8"), max_size=40),
)
QUERY_VALUE = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=20),
    st.text("0123456789", min_size=1, max_size=420),
    st.sampled_from(["\x00", "%00", "", " ", "1e9", "-1"]),
)


@dataclass
class Case:
    """One request to build: the plaintext, the mode, and what is done to the rest."""

    mode: str
    xml: str
    #: query values in place of the valid ones (the signatures are computed over them)
    query_overrides: dict[str, str] = field(default_factory=dict)
    #: query parameters left out
    dropped: list[str] = field(default_factory=list)
    #: a Content-Encoding header ("gzip-of-it": the body really gzipped)
    encoding: str = ""
    #: text inserted into the body as sent (the envelope in safe mode): (position, text)
    injected: tuple[int, str] | None = None


def _fields(xml: str) -> list[str]:
    return re.findall(r"^\s*<([A-Za-z_]+)>", xml, flags=re.MULTILINE)


def base_xml(name: str) -> str:
    """A recorded callback, sent now, with a fresh MsgId (a repeated one would be a retry)."""
    xml = re.sub(r"<CreateTime>\d+</CreateTime>", f"<CreateTime>{now()}</CreateTime>", fixture(name))
    return re.sub(r"<MsgId>\d+</MsgId>", f"<MsgId>{next(_msg_ids)}</MsgId>", xml)


@st.composite
def mutated_xml(draw: st.DrawFn, xml: str) -> str:
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["field", "field", "drop", "dup", "nest", "inject", "cut", "many", "attrs"]))
        target = draw(st.sampled_from(_fields(xml) or ["MsgType"]))
        element = re.search(rf"<{target}>.*?</{target}>", xml, re.DOTALL)
        if op == "field" and element:
            value = draw(NASTY)
            inner = f"<![CDATA[{value}]]>" if draw(st.booleans()) else value
            xml = xml[: element.start()] + f"<{target}>{inner}</{target}>" + xml[element.end() :]
        elif op == "drop" and element:
            xml = xml[: element.start()] + xml[element.end() :]
        elif op == "dup" and element:
            xml = xml.replace("</xml>", element.group(0) + "</xml>")
        elif op == "nest":
            depth = draw(st.integers(1, 60))
            xml = xml.replace("</xml>", "<a>" * depth + "x" + "</a>" * depth + "</xml>")
        elif op == "inject":
            at = draw(st.integers(0, len(xml)))
            xml = xml[:at] + draw(st.text(st.characters(codec="utf-8"), max_size=12)) + xml[at:]
        elif op == "cut":
            xml = xml[: draw(st.integers(0, len(xml)))]
        elif op == "many":
            xml = xml.replace("</xml>", "<b/>" * draw(st.integers(1, 400)) + "</xml>")
        elif op == "attrs":
            count = draw(st.integers(1, 900))
            xml = xml.replace("<xml>", "<xml " + " ".join(f'a{i}="{i}"' for i in range(count)) + ">", 1)
    return xml


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """One area mutated at a time (the others as WeChat sends them), or all of them at once."""
    case = Case(mode=draw(st.sampled_from(["safe", "plain", "compat"])), xml=base_xml(draw(st.sampled_from(NAMES))))
    area = draw(st.sampled_from(["xml", "query", "xml", "encoding", "outer", "all"]))
    if area in ("xml", "all"):
        case.xml = draw(mutated_xml(case.xml))
    if area in ("query", "all"):
        names = ["nonce", "timestamp", "echostr", "encrypt_type"]
        for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True)):
            case.query_overrides[name] = draw(QUERY_VALUE)
        # Rare branches are taken on the largest draw: hypothesis tries the smallest values most.
        if draw(st.integers(0, 4)) == 4:
            case.dropped.append(draw(st.sampled_from(["signature", "msg_signature", "timestamp", "nonce"])))
    if area in ("encoding", "all"):
        case.encoding = draw(st.sampled_from(["gzip", "gzip-of-it", "deflate", "br", "identity"]))
    if area in ("outer", "all"):
        case.injected = (draw(st.integers(0, 10_000)), draw(st.text(max_size=8)))
    return case


def build(case: Case) -> tuple[dict[str, str], bytes, dict[str, str]]:
    """The request of a case, signed correctly over whatever its query says."""
    timestamp = case.query_overrides.get("timestamp", now())
    # A fresh nonce each time: the same one with another body is a replay (plain mode).
    nonce = case.query_overrides.get("nonce", str(next(_nonces)))
    query = {"signature": sign(TOKEN, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    body = case.xml.encode()
    if case.mode != "plain":
        encrypted = SafeMode(TOKEN, AES_KEY, APP_ID).ciphertext(case.xml)
        query.update(encrypt_type="aes", msg_signature=sign(TOKEN, timestamp, nonce, encrypted))
        sealed = f"<Encrypt><![CDATA[{encrypted}]]></Encrypt>"
        if case.mode == "safe":
            body = f"<xml><ToUserName><![CDATA[gh_longtuan]]></ToUserName>{sealed}</xml>".encode()
        else:
            body = (
                case.xml.replace("</xml>", sealed + "</xml>") if "</xml>" in case.xml else case.xml + sealed
            ).encode()
    for name, value in case.query_overrides.items():
        if name in ("echostr", "encrypt_type"):
            query[name] = value
    for name in case.dropped:
        query.pop(name, None)
    if case.injected is not None:
        at, text = case.injected
        at %= len(body) + 1
        body = body[:at] + text.encode() + body[at:]
    headers = {}
    if case.encoding == "gzip-of-it":
        body, headers = gzip.compress(body), {"Content-Encoding": "gzip"}
    elif case.encoding:
        headers = {"Content-Encoding": case.encoding}
    return query, body, headers


def check_reply(body: bytes) -> None:
    """A passive reply: well-formed XML; sealed, its signature holds and the inside is well-formed."""
    root = ET.fromstring(body)
    assert root.tag == "xml"
    children = {child.tag: (child.text or "") for child in root}
    if "Encrypt" in children:
        inner = SafeMode(TOKEN, AES_KEY, APP_ID).decrypt(
            children["Encrypt"], children["MsgSignature"], children["TimeStamp"], children["Nonce"]
        )
        assert re.fullmatch(r"[0-9A-Za-z]{1,64}", children["Nonce"]), children["Nonce"]
        root = ET.fromstring(inner)
        children = {child.tag: (child.text or "") for child in root}
    assert children.get("MsgType") and children.get("ToUserName"), children


async def counts(gateway: Gateway) -> tuple[float, dict[str, float]]:
    """Internal errors so far, and refusals by reason, from the app's own /metrics."""
    assert gateway.http is not None
    async with gateway.http.get(gateway.url("/metrics")) as resp:
        page = await resp.text()
    errors, refused = 0.0, {}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name == "longtuan_refusals_total":
                refused[sample.labels["reason"]] = sample.value
            elif sample.name == "longtuan_requests_total" and sample.labels.get("outcome") == "error":
                errors = sample.value
    return errors, refused


@pytest.fixture(autouse=True)
def quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)  # a few hundred requests: keep only what could matter


@pytest.fixture
async def fuzzed(make_gateway: GatewayFactory) -> Gateway:
    # Hypothesis makes each case synchronously on the loop the server runs on, so a connection
    # opened while cases are made can outlive asyncpg's 2-second connect time-out, and the breaker
    # then answers "busy" for a second: the fuzzed requests would meet an outage nobody caused.
    # So the connections the run needs (a request, the touch flusher, the outbox gauges) are opened
    # before it starts, and no delivery worker runs beside it.
    gateway = await make_gateway(mode="safe", wechat_allow_plain=True, worker_in_serve=False)
    await asyncio.gather(*(gateway.services.db.ping() for _ in range(4)))
    return gateway


@settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=cases())
async def test_mutated_signed_callbacks(fuzzed: Gateway, case: Case) -> None:
    gateway = fuzzed
    query, body, headers = build(case)
    errors, refused = await counts(gateway)
    answer = await post(gateway, query, body, headers)
    assert answer.status < 500, (answer.status, answer.text)
    errors_after, refused_after = await counts(gateway)
    assert errors_after == errors, "an internal error, answered success"
    if answer.status == 200:
        assert refused_after == refused
        if answer.body not in (b"", b"success"):
            check_reply(answer.body)
        return
    # A refusal: its reason is the body, its status the reason's, and it is counted once, under it.
    assert answer.text in REASONS, (answer.status, answer.text)
    assert REASONS[answer.text] == answer.status
    assert refused_after == {**refused, answer.text: refused.get(answer.text, 0.0) + 1}
