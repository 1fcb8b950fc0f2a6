"""The test harness: a real app on a loopback port, driven by a signing WeChat simulator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.app import DATABASE, SERVICES
from bot.channels.wechat.simulator import Answer, WeChatSimulator, event_xml, text_xml
from bot.context import Services
from bot.db import Database
from tests.fakes.wechat_api import FakeWeChatAPI

ACCOUNT = "gh_longtuan"


class _Server(TestServer):
    """aiohttp's test server, run as ``longtuan serve`` runs the app: a client hanging up does not
    cancel its handler (TestServer would; run_app does not). The pipeline relies on it: a delivery
    whose platform connection is gone still stores its result for the retry."""

    async def _make_runner(self, **kwargs: Any) -> web.BaseRunner:
        kwargs["handler_cancellation"] = False
        return await super()._make_runner(**kwargs)


class Gateway:
    def __init__(self, app: web.Application, fake: FakeWeChatAPI, mode: str = "plain") -> None:
        self.app = app
        self.fake = fake
        self.mode = mode
        self.server = _Server(app, host="127.0.0.1")
        self.http: aiohttp.ClientSession | None = None
        self._sim: WeChatSimulator | None = None

    async def start(self) -> Gateway:
        await self.server.start_server()
        self.http = aiohttp.ClientSession()
        settings = self.services.settings
        aes = settings.wechat_aes_key.get_secret_value() if settings.wechat_aes_key else None
        self._sim = WeChatSimulator(
            self.http,
            str(self.server.make_url("/wechat")),
            settings.wechat_token.get_secret_value(),
            app_id=settings.wechat_app_id,
            aes_key=aes,
            mode=self.mode,
        )
        return self

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()
        await self.server.close()

    @property
    def sim(self) -> WeChatSimulator:
        assert self._sim is not None
        return self._sim

    @property
    def services(self) -> Services:
        return self.app[SERVICES]

    @property
    def db(self) -> Database:
        return self.app[DATABASE]

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    async def post(self, xml: str, user: str | None = None) -> Answer:
        if user is not None:
            self.fake.interact(user)  # the platform opens the 48-hour window when a user writes
        return await self.sim.post(xml)

    async def say(self, user: str, text: str, **kw: Any) -> Answer:
        return await self.post(text_xml(user, text, account=ACCOUNT, **kw), user)

    async def event(self, user: str, event: str, key: str | None = None, **extra: str) -> Answer:
        # extra holds more XML fields (Ticket, Latitude ...), all strings.
        return await self.post(event_xml(user, event, key, account=ACCOUNT, fields=extra), user)

    def expected(self, key: str, **params: Any) -> str:
        content = self.services.content
        if key.startswith("faq."):
            return next(e.answer for e in content.faq if e.id == key[4:])
        return content.text(key, **params)

    async def dialog(
        self, user: str, steps: Sequence[tuple[str, str] | tuple[str, str, dict[str, Any]]]
    ) -> list[Answer]:
        """Say each line and check the reply starts with the text under the expected content key."""
        answers = []
        for step in steps:
            said, key = step[0], step[1]
            params: dict[str, Any] = step[2] if len(step) > 2 else {}
            answer = await self.say(user, said)
            assert answer.status == 200, (said, answer.status, answer.body)
            want = self.expected(key, **params)
            assert answer.text.startswith(want), f"{said!r}: expected {key}\n--- got ---\n{answer.text}"
            answers.append(answer)
        return answers

    async def flush_users(self) -> None:
        await self.services.users.flush()


def count_batched_statements(monkeypatch: pytest.MonkeyPatch, db: Database, width: int) -> list[int]:
    """From now on, ``db.fetch`` notes the size of each statement it sends (its parameters over
    ``width``, the parameters a key takes): the sizes of ``bot.db.batch``'s statements, in order."""
    sizes: list[int] = []
    real_fetch = db.fetch

    async def counting(query: str, *args: object) -> list[object]:
        sizes.append(len(args) // width)
        return await real_fetch(query, *args)

    monkeypatch.setattr(db, "fetch", counting)
    return sizes
