"""What the hardening tests share: requests signed by hand (any nonce, any timestamp, any
plaintext, which the simulator would refuse to build), raw answers, and the refusal check."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

import pytest

from bot.channels.wechat.crypto import SafeMode, sign
from tests.channels import ACCOUNT, metric
from tests.conftest import AES_KEY, APP_ID, TOKEN
from tests.harness import Gateway


@dataclass(slots=True)
class Raw:
    """An answer as it came, unparsed: a fuzzed request may get anything back."""

    status: int
    body: bytes
    content_type: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def now() -> str:
    return str(int(time.time()))


def plain(xml: str | bytes, *, timestamp: str | None = None, nonce: str = "1320562132") -> tuple[dict[str, str], bytes]:
    """A plain-mode request: the signature covers (token, timestamp, nonce) only."""
    timestamp = now() if timestamp is None else timestamp
    body = xml.encode() if isinstance(xml, str) else xml
    return {"signature": sign(TOKEN, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}, body


def sealed(xml: str, *, timestamp: str | None = None, nonce: str = "1320562132") -> tuple[dict[str, str], bytes]:
    """A safe-mode request with valid signature and msg_signature, for any plaintext and query."""
    timestamp = now() if timestamp is None else timestamp
    encrypted = SafeMode(TOKEN, AES_KEY, APP_ID).ciphertext(xml)
    query = {
        "signature": sign(TOKEN, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": sign(TOKEN, timestamp, nonce, encrypted),
    }
    body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    return query, body.encode()


async def post(
    gateway: Gateway, query: Mapping[str, str], body: bytes, headers: Mapping[str, str] | None = None
) -> Raw:
    assert gateway.http is not None
    sent = {"Content-Type": "text/xml", **(headers or {})}
    async with gateway.http.post(gateway.url("/wechat"), params=query, data=body, headers=sent) as resp:
        return Raw(resp.status, await resp.read(), resp.headers.get("Content-Type", ""))


async def get(gateway: Gateway, query: Mapping[str, str]) -> Raw:
    assert gateway.http is not None
    async with gateway.http.get(gateway.url("/wechat"), params=query) as resp:
        return Raw(resp.status, await resp.read(), resp.headers.get("Content-Type", ""))


def refusal_reasons(caplog: pytest.LogCaptureFixture, since: int) -> list[str]:
    return [
        str(getattr(r, "reason", ""))
        for r in caplog.records[since:]
        if r.name == "longtuan.wechat" and hasattr(r, "reason")
    ]


async def expect_refused(
    gateway: Gateway,
    caplog: pytest.LogCaptureFixture,
    query: Mapping[str, str],
    body: bytes = b"",
    *,
    status: int,
    reason: str,
    user: str | None = None,
    headers: Mapping[str, str] | None = None,
    method: str = "POST",
) -> Raw:
    """One request, refused whole: its status, the reason as the body, one count, one log line,
    no internal error, and (given ``user``) nothing of it stored."""
    before = await metric(gateway, "longtuan_refusals_total", channel="wechat", reason=reason)
    since = len(caplog.records)
    answer = await (post(gateway, query, body, headers) if method == "POST" else get(gateway, query))
    assert (answer.status, answer.text) == (status, reason)
    assert await metric(gateway, "longtuan_refusals_total", channel="wechat", reason=reason) == before + 1
    assert refusal_reasons(caplog, since) == [reason]
    assert await metric(gateway, "longtuan_requests_total", channel="wechat", outcome="error") == 0
    assert not [r for r in caplog.records[since:] if r.levelno >= logging.ERROR], "an internal error was logged"
    if user is not None:
        await gateway.flush_users()
        assert await gateway.services.users.get("wechat", user) is None, "a refused request reached the pipeline"
    return answer
