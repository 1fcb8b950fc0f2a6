"""Driving the server: signed payloads made up front, closed-loop connections, the two phases."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urlencode

import aiohttp

from bench.gateway.config import ACCOUNT
from bench.gateway.payloads import Payload
from bench.gateway.senders import RawSender
from bot.channels.wechat.simulator import WeChatSimulator, text_xml


@dataclass(slots=True)
class Phase:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    replies: list[tuple[str, bytes]] = field(default_factory=list)
    seconds: float = 0.0


class Payloads:
    """Signed, encrypted safe-mode text messages as whole HTTP requests (the raw client's form)."""

    def __init__(self, url: str, token: str, app_id: str, aes_key: str) -> None:
        self.sim = WeChatSimulator(cast(aiohttp.ClientSession, None), url, token, app_id=app_id, aes_key=aes_key)
        self.sim.mode = "safe"
        host_port = url.split("/")[2]
        self.path = "/" + url.split("/", 3)[3]
        self.head = f"Host: {host_port}\r\nContent-Type: text/xml\r\nContent-Length: "

    def make(self, user: str, text: str) -> Payload:
        query, body = self.sim.signed(text_xml(user, text, account=ACCOUNT))
        line = f"POST {self.path}?{urlencode(query)} HTTP/1.1\r\n{self.head}{len(body)}\r\n\r\n"
        return Payload(None, body, user, line.encode() + body)


def partition(users: Sequence[str], connections: int) -> list[list[str]]:
    """Each volunteer on one connection only: nobody writes again before their reply arrived."""
    return [list(users[w::connections]) for w in range(connections)]


async def _connection(sender: RawSender, items: list[Payload], phase: Phase, keep: bool) -> None:
    perf = time.perf_counter
    for p in items:
        started = perf()
        try:
            status, body = await sender.send(p)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            status, body = 0, type(exc).__name__.encode()
        phase.latencies.append(perf() - started)
        if status != 200:
            phase.errors[f"HTTP {status}" if status else f"client {body.decode()}"] += 1
        elif not body.startswith(b"<xml>"):
            phase.errors["no reply"] += 1
        elif keep:
            phase.replies.append((p.user, body))


async def run_phase(host: str, port: int, lanes: list[list[Payload]], *, keep_every: int = 1) -> Phase:
    """Send each lane's payloads one after the other on its own connection; all lanes at once."""
    phase = Phase()
    senders = [RawSender(host, port) for _ in lanes]
    started = time.perf_counter()
    try:
        await asyncio.gather(
            *(
                _connection(s, lane, phase, keep=i % keep_every == 0)
                for i, (s, lane) in enumerate(zip(senders, lanes, strict=True))
            )
        )
    finally:
        for s in senders:
            s.close()
    phase.seconds = time.perf_counter() - started
    return phase


def percentile(ordered: Sequence[float], q: float) -> float:
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else float("nan")


def hours_lanes(
    payloads: Payloads, users: list[str], connections: int, requests: int, rng: random.Random
) -> list[list[Payload]]:
    """「我的时长」 from random volunteers, ``requests`` in all, spread over the connections."""
    lanes = partition(users, connections)
    per = math.ceil(requests / connections)
    return [[payloads.make(rng.choice(lane), "我的时长") for _ in range(per)] for lane in lanes]


def check_replies(payloads: Payloads, replies: list[tuple[str, bytes]], starts: str) -> Counter[str]:
    """Decrypt and verify each reply (signature, app id, addressed to the sender, the expected text)."""
    bad: Counter[str] = Counter()
    for user, body in replies:
        try:
            fields = payloads.sim.read_reply(body.decode())
        except Exception as exc:  # noqa: BLE001 - any failure to read a reply is a failed request
            bad[f"reply does not verify ({type(exc).__name__})"] += 1
            continue
        if fields.get("ToUserName") != user:
            bad["reply to someone else"] += 1
        elif not fields.get("Content", "").startswith(starts):
            bad[f"unexpected reply: {fields.get('Content', '')[:30]}"] += 1
    return bad
