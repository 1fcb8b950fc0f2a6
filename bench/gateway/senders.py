"""Senders: the two HTTP clients of the load generator, aiohttp and raw HTTP/1.1 on asyncio streams."""

from __future__ import annotations

import asyncio
from typing import Any

from bench.gateway.payloads import Payload

HEADERS = {"Content-Type": "text/xml"}


class AiohttpSender:
    def __init__(self, http: Any) -> None:
        self.http = http

    async def send(self, p: Payload) -> tuple[int, bytes]:
        async with self.http.post(p.url, data=p.body, headers=HEADERS) as resp:
            return int(resp.status), bytes(await resp.read())

    def close(self) -> None:
        pass


class RawSender:
    """One keep-alive HTTP/1.1 connection writing pre-rendered requests; re-opened after an error."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, p: Payload) -> tuple[int, bytes]:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        try:
            self.writer.write(p.request)
            head = await self.reader.readuntil(b"\r\n\r\n")
            lower = head.lower()
            at = lower.find(b"\r\ncontent-length:")
            if at < 0:
                raise ValueError("reply without Content-Length")
            body = await self.reader.readexactly(int(head[at + 17 : head.index(b"\r\n", at + 2)]))
            if b"\r\nconnection: close" in lower:
                self.close()
            return int(head[9:12]), body
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


Sender = AiohttpSender | RawSender
