"""Helpers of the gateway tests: a handler that counts and sleeps, metrics reading, polling."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from bot.context import Context
from bot.model import Inbound, Reply
from bot.router import Router
from tests.harness import Gateway


class CountingRouter(Router):
    """Answers everything after ``delay(msg)`` seconds; counts the handler runs per delivery."""

    def __init__(self, delay: Callable[[Inbound], float] = lambda msg: 0.0) -> None:
        super().__init__("counting")
        self.calls: Counter[str] = Counter()
        self.delay = delay

        @self.on()
        async def counted(msg: Inbound, ctx: Context) -> Reply:
            self.calls[msg.dedupe_key] += 1
            run = sum(self.calls.values())
            await asyncio.sleep(self.delay(msg))
            # "]]>" must survive the reply XML (and is what a naive renderer breaks on).
            return Reply(text=f"第{run}次处理]]>：{msg.text or msg.key}")

    @property
    def total(self) -> int:
        return sum(self.calls.values())


async def metrics_text(gateway: Gateway) -> str:
    assert gateway.http is not None
    async with gateway.http.get(gateway.url("/metrics")) as resp:
        assert resp.status == 200
        return await resp.text()


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when the series does not exist yet)."""
    wanted = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def healthz(gateway: Gateway) -> tuple[int, dict[str, Any]]:
    assert gateway.http is not None
    async with gateway.http.get(gateway.url("/healthz")) as resp:
        return resp.status, await resp.json()


async def poll(check: Callable[[], Awaitable[bool]], within: float = 3.0, interval: float = 0.05) -> bool:
    """Call ``check`` until it is true or ``within`` seconds have passed; returns the last verdict."""
    deadline = time.monotonic() + within
    while True:
        if await check():
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
