"""The client: one connection per person, every signup written at the same moment, every reply read back."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlencode

import aiohttp

from bench.gateway.config import ACCOUNT
from bench.gateway.payloads import Payload
from bench.gateway.senders import RawSender

POSITION = re.compile(r"目前是第(\d+)位")


@dataclass(slots=True)
class Answer:
    user: str
    status: int
    seconds: float
    #: confirmed | waitlisted | other (a reply that is neither) | error (no reply)
    outcome: str
    position: int = 0
    detail: str = ""


def payloads(url: str, token: str, app_id: str, aes_key: str, users: list[str], text: str) -> list[bytes]:
    """Each user's signed, encrypted request, whole (request line, headers, body)."""
    from bot.channels.wechat.simulator import WeChatSimulator, text_xml

    sim = WeChatSimulator(cast(aiohttp.ClientSession, None), url, token, app_id=app_id, aes_key=aes_key, mode="safe")
    host_port, path = url.split("/")[2], "/" + url.split("/", 3)[3]
    out = []
    for user in users:
        query, body = sim.signed(text_xml(user, text, account=ACCOUNT))
        head = f"POST {path}?{urlencode(query)} HTTP/1.1\r\nHost: {host_port}\r\nContent-Type: text/xml\r\n"
        out.append(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return out


async def _connect(host: str, port: int, n: int) -> list[RawSender]:
    """``n`` open connections, opened a few at a time (a connect storm would measure the accept queue)."""
    senders = [RawSender(host, port) for _ in range(n)]
    for start in range(0, n, 50):
        batch = senders[start : start + 50]
        opened = await asyncio.gather(*(asyncio.open_connection(host, port) for _ in batch))
        for sender, (reader, writer) in zip(batch, opened, strict=True):
            sender.reader, sender.writer = reader, writer
    return senders


async def burst(url: str, token: str, app_id: str, aes_key: str, users: list[str], text: str) -> list[Answer]:
    from bot.channels.wechat.simulator import WeChatSimulator

    requests = payloads(url, token, app_id, aes_key, users, text)
    sim = WeChatSimulator(cast(aiohttp.ClientSession, None), url, token, app_id=app_id, aes_key=aes_key, mode="safe")
    host, _, port = url.split("/")[2].partition(":")
    senders = await _connect(host, int(port), len(users))
    go = asyncio.Event()

    async def one(sender: RawSender, user: str, request: bytes) -> Answer:
        await go.wait()
        started = time.perf_counter()
        try:
            status, body = await asyncio.wait_for(sender.send(Payload(None, b"", user, request)), 30)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            return Answer(user, 0, time.perf_counter() - started, "error", detail=type(exc).__name__)
        seconds = time.perf_counter() - started
        return _read(sim, user, status, seconds, body)

    tasks = [asyncio.create_task(one(s, u, r)) for s, u, r in zip(senders, users, requests, strict=True)]
    await asyncio.sleep(0.2)  # every task waits at the barrier
    go.set()
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for sender in senders:
            sender.close()


def _read(sim: object, user: str, status: int, seconds: float, body: bytes) -> Answer:
    from bot.channels.wechat.simulator import WeChatSimulator

    assert isinstance(sim, WeChatSimulator)
    if status != 200:
        return Answer(user, status, seconds, "error", detail=f"HTTP {status}")
    try:
        fields = sim.read_reply(body.decode())
    except Exception as exc:  # noqa: BLE001 - any reply that does not verify is an error, named
        return Answer(user, status, seconds, "error", detail=f"reply does not verify ({type(exc).__name__})")
    content = fields.get("Content", "")
    if fields.get("ToUserName") != user or fields.get("FromUserName") != ACCOUNT or not content:
        return Answer(user, status, seconds, "error", detail="no reply to the sender")
    if content.startswith("报名成功"):
        return Answer(user, status, seconds, "confirmed")
    if m := POSITION.search(content):
        return Answer(user, status, seconds, "waitlisted", int(m.group(1)))
    return Answer(user, status, seconds, "other", detail=content[:40])
