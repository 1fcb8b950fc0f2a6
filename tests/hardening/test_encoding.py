"""Finding 3: a body that is not in the Content-Encoding it claims is the client's error (400)."""

from __future__ import annotations

import gzip
import logging
import zlib

import pytest

from bot.channels.wechat.validate import decoded
from bot.errors import RequestRefused
from tests.channels import USER, fixture, restamp
from tests.hardening.support import expect_refused, now, plain, post
from tests.harness import Gateway


@pytest.fixture(autouse=True)
def capture_everything(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def text_now() -> str:
    return restamp(fixture("text"), create_time=int(now()))


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", text_now().encode()),
        ("gzip", gzip.compress(text_now().encode())[:-12]),  # cut short
        ("deflate", b"\x78\x9c not deflate at all"),
    ],
    ids=["gzip-that-is-not", "gzip-cut-short", "deflate-that-is-not"],
)
async def test_a_body_not_in_its_content_encoding_is_400_bad_encoding(
    gateway: Gateway, caplog: pytest.LogCaptureFixture, encoding: str, body: bytes
) -> None:
    # It used to be an internal error answered 200 "success".
    query, _ = plain(text_now())
    await expect_refused(
        gateway,
        caplog,
        query,
        body,
        status=400,
        reason="bad_encoding",
        user=USER,
        headers={"Content-Encoding": encoding},
    )


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_body_really_in_its_content_encoding_is_read(gateway: Gateway, encoding: str) -> None:
    xml = text_now().encode()
    body = gzip.compress(xml, mtime=0) if encoding == "gzip" else zlib.compress(xml)
    answer = await post(gateway, *plain(xml)[:1], body, {"Content-Encoding": encoding})
    assert answer.status == 200 and gateway.expected("faq.night_school.signup") in answer.text


async def test_a_gzip_bomb_is_cut_off_at_the_body_limit(gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    # 8 MiB of spaces inside an XML comment compress to 8 KiB; decompressed, the body is over the limit.
    xml = text_now().replace("<xml>", "<xml><!--" + " " * (8 << 20) + "-->")
    body = gzip.compress(xml.encode())
    assert len(body) < 64 * 1024
    query, _ = plain(xml)
    await expect_refused(
        gateway,
        caplog,
        query,
        body,
        status=413,
        reason="body_too_large",
        user=USER,
        headers={"Content-Encoding": "gzip"},
    )


@pytest.mark.parametrize(
    ("coding", "body", "outcome"),
    [
        ("", b"<xml/>", "<xml/>"),
        ("identity", b"<xml/>", "<xml/>"),
        (" GZIP ", gzip.compress(b"<xml/>", mtime=0), "<xml/>"),
        ("x-gzip", gzip.compress(b"<xml/>", mtime=0), "<xml/>"),
        ("gzip", gzip.compress(b"<xml/>", mtime=0) + b"more", "bad_encoding"),
        ("br", b"<xml/>", "bad_encoding"),
        ("gzip, identity", gzip.compress(b"<xml/>", mtime=0), "bad_encoding"),
        ("gzip", gzip.compress(b"x" * 70_000, mtime=0), "body_too_large"),
    ],
)
def test_decoding_a_body(coding: str, body: bytes, outcome: str) -> None:
    try:
        result = decoded(body, coding, 64 * 1024).decode()
    except RequestRefused as exc:
        result = exc.reason
    assert result == outcome
