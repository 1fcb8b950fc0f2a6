"""Payloads: signed, encrypted safe-mode text messages, made before the clock starts."""

from __future__ import annotations

import base64
import random
import time
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode

from bench.gateway.config import ACCOUNT, LoadConfig

#: What young people write, with weights: the FAQ questions of the issue, help, and text the bot
#: does not know (the fallback). About 15 % unknown. With the programmes in, about half of these
#: reach PostgreSQL (「实习岗位」 searches, 「青年大学习」 reads the week, unknown text is kept for staff).
TEXTS: tuple[tuple[str, int], ...] = (
    ("夜校怎么报名", 20),
    ("志愿时长怎么查", 18),
    ("帮助", 14),
    ("实习岗位", 16),
    ("青年大学习", 16),
    ("今天天气怎么样", 4),
    ("你们周末有人值班吗？", 4),
    ("哈哈哈哈哈", 3),
    ("我想问一下那个东西还有没有", 3),
    ("ok", 2),
)

#: ``--mix gateway``: messages answered from content alone (FAQ, help, small talk), the gateway's
#: own cost (signature, decryption, parsing, the session in Redis, routing, the encrypted reply).
GATEWAY_TEXTS: tuple[tuple[str, int], ...] = (
    ("夜校怎么报名", 20),
    ("志愿时长怎么查", 18),
    ("帮助", 14),
    ("菜单", 10),
    ("你好", 10),
    ("谢谢", 8),
    ("哈哈哈哈哈", 3),
    ("ok", 2),
)

MIXES = {"product": TEXTS, "gateway": GATEWAY_TEXTS}


@dataclass(slots=True)
class Payload:
    url: Any  # yarl.URL, pre-encoded (aiohttp client)
    body: bytes
    user: str
    request: bytes = b""  # the whole HTTP request (raw client)
    text: str = ""  # what the message says (latency by text)


class Pool:
    """One connection's payloads, consumed in order."""

    __slots__ = ("items", "pos")

    def __init__(self) -> None:
        self.items: list[Payload] = []
        self.pos = 0

    def take(self) -> Payload | None:
        if self.pos >= len(self.items):
            return None
        item = self.items[self.pos]
        self.pos += 1
        return item

    @property
    def left(self) -> int:
        return len(self.items) - self.pos

    def extend(self, items: list[Payload]) -> None:
        self.items = self.items[self.pos :] + items
        self.pos = 0


class Generator:
    """Signed, encrypted safe-mode text messages, made with the project's WeChat simulator."""

    def __init__(self, cfg: LoadConfig) -> None:
        import aiohttp
        from yarl import URL

        from bot.channels.wechat.simulator import WeChatSimulator

        self._url_type = URL
        self.cfg = cfg
        host_port = cfg.url.split("/")[2]
        self.path = "/" + cfg.url.split("/", 3)[3]
        self.head = f"Host: {host_port}\r\nContent-Type: text/xml\r\nContent-Length: "
        # ``signed`` never touches the HTTP session; the requests go through the load loop's own.
        self.sim = WeChatSimulator(
            cast(aiohttp.ClientSession, None), cfg.url, cfg.token, app_id=cfg.app_id, aes_key=cfg.aes_key, mode="safe"
        )
        self.rng = random.Random(cfg.seed)
        # Real openids are 28 characters: "o" and 27 of URL-safe base64.
        openids = [
            "o" + base64.urlsafe_b64encode(self.rng.randbytes(21)).decode()[:27] for _ in range(max(1, cfg.users))
        ]
        n = len(openids)
        self.partitions = [
            [openids[i] for i in range(w, n, cfg.connections)] or [openids[w % n]] for w in range(cfg.connections)
        ]
        mix = tuple((t, 1) for t in cfg.texts) or MIXES[cfg.mix]
        self.texts = [t for t, _ in mix]
        self.weights = [w for _, w in mix]
        self.made = 0
        self.seconds = 0.0

    def make(self, worker: int, count: int) -> list[Payload]:
        from bot.channels.wechat.simulator import text_xml

        started = time.perf_counter()
        users = self.partitions[worker]
        choices = self.rng.choices(self.texts, self.weights, k=count)
        out: list[Payload] = []
        for text in choices:
            user = self.rng.choice(users)
            query, body = self.sim.signed(text_xml(user, text, account=ACCOUNT))
            if self.cfg.client == "raw":
                line = f"POST {self.path}?{urlencode(query)} HTTP/1.1\r\n{self.head}{len(body)}\r\n\r\n"
                out.append(Payload(None, body, user, line.encode() + body, text))
            else:
                out.append(
                    Payload(self._url_type(f"{self.cfg.url}?{urlencode(query)}", encoded=True), body, user, text=text)
                )
        self.made += count
        self.seconds += time.perf_counter() - started
        return out
