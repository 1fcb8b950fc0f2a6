"""Helpers of the gateway tests: a handler that counts and sleeps, metrics reading, polling, a private Redis."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

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


class RedisServer:
    """A redis-server of this test alone, killed (SIGKILL) and restarted on the same port."""

    def __init__(self, directory: Path, *options: str, password: str = "") -> None:
        self.port = free_port()
        self.directory = directory
        self.options = options
        self.password = password
        self.url = f"redis://{':' + password + '@' if password else ''}127.0.0.1:{self.port}/0"
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        assert self._process is None
        self._process = await asyncio.create_subprocess_exec(
            "redis-server",
            *("--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
            *("--dir", str(self.directory)),
            *(("--requirepass", self.password) if self.password else ()),
            *self.options,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = aioredis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        try:

            async def answers() -> bool:
                try:
                    return bool(await client.ping())
                except (aioredis.ConnectionError, OSError):
                    return False

            assert await poll(answers, within=5.0), "the private redis-server did not start"
        finally:
            await client.aclose()

    def freeze(self) -> None:
        """SIGSTOP: the port still accepts connections (the kernel does), nothing is ever answered."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    async def kill(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.send_signal(signal.SIGCONT)  # a frozen one too
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()
