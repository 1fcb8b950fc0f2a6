"""Bugs do not reach the platform: a failing handler answers "busy", a failing gateway "success"."""

from __future__ import annotations

import logging

import pytest

from bot.context import Context
from bot.model import Inbound, Reply
from bot.router import Router
from tests.conftest import GatewayFactory
from tests.gateway.support import metrics_text, sample


def _broken_router() -> Router:
    router = Router("broken")

    @router.on()
    async def explode(msg: Inbound, ctx: Context) -> Reply:
        raise RuntimeError("a bug in a handler")

    return router


async def test_a_handler_bug_answers_busy_and_is_logged(
    make_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = await make_gateway(router=_broken_router())
    with caplog.at_level(logging.ERROR, logger="longtuan.pipeline"):
        answer = await gateway.say("o-bug-1", "你好")
    assert answer.status == 200
    assert answer.text == gateway.expected("system.busy")
    assert [r.getMessage() for r in caplog.records] == ["handler failed"]
    assert sample(await metrics_text(gateway), "longtuan_requests_total", channel="wechat", outcome="replied") == 1


async def test_a_gateway_bug_answers_success_never_5xx(
    make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = await make_gateway()

    async def broken_begin(*args: object) -> object:
        raise KeyError("a bug below the handlers")

    monkeypatch.setattr(gateway.services.store, "begin", broken_begin)
    with caplog.at_level(logging.ERROR, logger="longtuan.wechat"):
        answer = await gateway.say("o-bug-2", "帮助")
    assert (answer.status, answer.body) == (200, "success")
    assert [r.getMessage() for r in caplog.records] == ["unexpected error in the webhook"]
    assert sample(await metrics_text(gateway), "longtuan_requests_total", channel="wechat", outcome="error") == 1
