"""Flows as users meet them: escape words, no traps, paging, time-outs and their clean-ups, the lock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.channels.wechat.simulator import event_xml
from bot.context import Context, Services
from bot.errors import ConfigError
from bot.gateway.flows import expire_flows
from bot.model import Inbound, Reply
from bot.outbound import Receipt
from bot.router import Router
from bot.router.filters import Command, HasText, InState
from bot.session.base import Session, SessionKey, State, StatesGroup
from handlers import build_router
from handlers.profile import StreetFlow
from tests.channels import fixture
from tests.conftest import REDIS_URL, FixedClock, GatewayFactory, shared_content
from tests.gateway.support import CountingRouter, metrics_text, sample
from tests.harness import ACCOUNT, Gateway

USER = "o-flow-1"


async def state_of(gateway: Gateway, user: str) -> str | None:
    client = aioredis.Redis.from_url(REDIS_URL)
    settings = gateway.services.settings
    raw = await client.get(f"{settings.redis_prefix}s:wechat:{ACCOUNT}:{user}")
    await client.aclose()
    return Session.loads(raw, gateway.services.clock()).state


async def test_help_inside_a_flow_answers_and_the_flow_keeps_waiting(gateway: Gateway) -> None:
    await gateway.dialog(USER, [("设置街道", "profile.ask_street", {"streets": _streets(gateway)})])
    answer = await gateway.say(USER, "帮助")
    assert answer.text.startswith(gateway.expected("help.main"))
    assert answer.text.endswith(gateway.expected("system.flow_paused", flow="设置街道"))
    assert await state_of(gateway, USER) == StreetFlow.choosing.name
    await gateway.dialog(USER, [("4", "profile.street_saved", {"street": "坂田"})])
    assert await state_of(gateway, USER) is None


async def test_a_question_inside_a_flow_is_answered_not_trapped(gateway: Gateway) -> None:
    """The old trap: inside 设置街道 a question only heard 「没找到这个街道」."""
    await gateway.say(USER, "设置街道")
    answer = await gateway.say(USER, "夜校怎么报名呢我想去")
    assert "没找到这个街道" not in answer.text
    assert answer.text.endswith(gateway.expected("system.flow_paused", flow="设置街道"))
    assert await state_of(gateway, USER) == StreetFlow.choosing.name
    # A short answer that names no street is still taken as a wrong answer.
    await gateway.dialog(USER, [("火星", "profile.street_invalid", {"streets": _streets(gateway)})])


async def test_cancel_ends_the_flow_and_says_which(gateway: Gateway) -> None:
    await gateway.say(USER, "设置街道")
    await gateway.dialog(USER, [("取消", "system.cancelled")])
    assert await state_of(gateway, USER) is None
    await gateway.flush_users()
    user = await gateway.services.users.get("wechat", USER)
    assert user is not None and user.street == ""


async def test_a_menu_click_leaves_the_flow(gateway: Gateway) -> None:
    await gateway.say(USER, "设置街道")
    answer = await gateway.event(USER, "CLICK", "ABOUT")
    left = gateway.expected("system.flow_left", flow="设置街道")
    assert answer.text.startswith(left) and gateway.expected("menu.about") in answer.text
    assert await state_of(gateway, USER) is None


def _streets(gateway: Gateway) -> str:
    return "\n".join(f"{i}. {s}" for i, s in enumerate(gateway.services.content.streets, 1))


# -- a flow with a clean-up, and paging, on a router of the test's own ---------------------------

CLEANED: list[tuple[SessionKey, dict[str, Any], str]] = []


async def _release(services: Any, key: SessionKey, data: dict[str, Any], reason: str) -> None:
    CLEANED.append((key, data, reason))


class HoldFlow(StatesGroup):
    title_key = "profile.flow_title"
    cleanup = _release
    confirming = State(timeout=60)


def holding_router() -> Router:
    r = Router("hold")

    @r.on(InState(HoldFlow.confirming), HasText())
    async def confirmed(msg: Inbound, ctx: Context, text: str) -> Reply:
        seat = ctx.data["seat"]
        ctx.finish()
        return Reply(text=f"座位 {seat} 已确认")

    @r.on(Command(["占座"]))
    async def hold(msg: Inbound, ctx: Context) -> Reply:
        ctx.enter(HoldFlow.confirming, seat=7)
        ctx.update(note="第一排")
        return Reply(text="已为你保留 7 号座位，回复「确认」")

    @r.on(Command(["列表", "列表 2", "列表 3"]))
    async def listing(msg: Inbound, ctx: Context) -> Reply:
        page = int(msg.text.split()[-1]) if " " in msg.text else 1
        return Reply(text=f"第{page}页", more=f"列表 {page + 1}" if page < 3 else "")

    r.include(build_router(*shared_content()))
    return r


async def _tracked(services: Services) -> None:
    """The answer goes out before the session is stored and its flow tracked: wait for the tracking."""
    for _ in range(100):
        if await services.store.due_flows(float("inf")):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the flow was never tracked")


async def test_a_timed_out_flow_is_cleaned_up_by_the_job_and_the_user_told(make_gateway: GatewayFactory) -> None:
    CLEANED.clear()
    clock = FixedClock(1_800_000_000)
    gateway = await make_gateway(router=holding_router(), clock=clock, wechat_replay_window=0)
    await gateway.say(USER, "占座")
    services: Services = gateway.services
    await _tracked(services)
    assert await expire_flows(services) == 0, "not due yet"
    clock.advance(61)
    assert await expire_flows(services) == 1
    assert await expire_flows(services) == 0, "run twice: cleaned up once"
    key = SessionKey("wechat", ACCOUNT, USER)
    assert [(key, {"seat": 7, "note": "第一排"}, "timeout")] == CLEANED
    answer = await gateway.say(USER, "确认")
    assert answer.text.startswith(gateway.expected("system.flow_timeout"))
    assert "座位 7 已确认" not in answer.text


async def test_cancel_runs_the_flows_clean_up(make_gateway: GatewayFactory) -> None:
    CLEANED.clear()
    gateway = await make_gateway(router=holding_router())
    await gateway.say(USER, "占座")
    await _tracked(gateway.services)
    await gateway.dialog(USER, [("取消", "system.cancelled")])
    assert [reason for _, _, reason in CLEANED] == ["cancelled"]
    assert await expire_flows(gateway.services) == 0, "a cancelled flow is no longer tracked"


async def test_only_a_flow_with_a_clean_up_touches_the_time_out_list(
    make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sessions changed outside such a flow (a next page, results kept for browsing) cost no round
    trip to the list; entering the flow adds it, ending it takes it off."""
    gateway = await make_gateway(router=holding_router())
    store = gateway.services.store
    calls: list[float | None] = []
    real = store.track_flow

    async def spy(key: SessionKey, expires_at: float | None) -> None:
        calls.append(expires_at)
        await real(key, expires_at)

    monkeypatch.setattr(store, "track_flow", spy)
    await gateway.say(USER, "列表")
    await gateway.say(USER, "列表 2")
    await gateway.say(USER, "占座")
    await _tracked(gateway.services)
    assert (await gateway.say(USER, "确认")).text.startswith("座位 7 已确认")
    for _ in range(100):
        if len(calls) == 2:
            break
        await asyncio.sleep(0.01)
    await gateway.say(USER, "列表")
    assert len(calls) == 2 and calls[0] is not None and calls[1] is None, calls
    assert not await store.due_flows(float("inf"))


async def test_more_sends_the_next_page(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(router=holding_router())
    first = await gateway.say(USER, "列表")
    assert first.text.startswith("第1页") and "msgmenucontent=%E6%9B%B4%E5%A4%9A" in first.text
    assert (await gateway.say(USER, "更多")).text.startswith("第2页")
    assert (await gateway.say(USER, "下一页")).text == "第3页", "the last page offers no 「更多」"
    # Nothing more to show: 「更多」 is an ordinary message again.
    assert not (await gateway.say(USER, "更多")).text.startswith("第")


async def test_flow_data_must_be_json(make_gateway: GatewayFactory) -> None:
    ctx = Context(services=(await make_gateway()).services, session=Session())
    with pytest.raises(TypeError, match="JSON"):
        ctx.enter(HoldFlow.confirming, when=object())
    ctx.enter(HoldFlow.confirming, seat=1)
    with pytest.raises(TypeError, match="JSON"):
        ctx.update(ratio=float("nan"))
    assert ctx.data == {"seat": 1}


def test_a_state_declared_twice_fails_at_start_up() -> None:
    with pytest.raises(ConfigError, match="declared twice"):
        type("HoldFlow", (StatesGroup,), {"__module__": __name__, "__qualname__": "HoldFlow", "confirming": State()})


# -- the lock ------------------------------------------------------------------------------------


async def test_a_user_whose_previous_message_holds_the_lock_hears_busy_and_nothing_runs(
    make_gateway: GatewayFactory,
) -> None:
    router = CountingRouter()
    gateway = await make_gateway(router=router, lock_wait=0.3)
    settings = gateway.services.settings
    client = aioredis.Redis.from_url(REDIS_URL)
    await client.set(f"{settings.redis_prefix}l:wechat:{ACCOUNT}:{USER}", "someone-else", px=5000)
    await client.aclose()
    answer = await gateway.say(USER, "你好")
    assert answer.text == gateway.expected("system.busy")
    assert router.total == 0, "the handler never runs beside the message holding the lock"
    assert sample(await metrics_text(gateway), "longtuan_lock_timeouts_total") == 1


# -- receipts ------------------------------------------------------------------------------------


class RecordingLedger:
    def __init__(self) -> None:
        self.receipts: list[Receipt] = []

    async def record(self, receipt: Receipt) -> None:
        self.receipts.append(receipt)


async def test_a_delivery_receipt_goes_to_the_ledger_not_to_a_handler(make_gateway: GatewayFactory) -> None:
    ledger, router = RecordingLedger(), CountingRouter()
    gateway = await make_gateway(router=router, ledger=ledger)
    answer = await gateway.post(fixture("event_templatesendjobfinish"))
    assert (answer.status, answer.body) == (200, "success")
    assert [(r.kind, r.ref) for r in ledger.receipts] == [("template_sent", "2912337421874659330")]
    assert router.total == 0


def test_event_xml_helper_still_builds_events() -> None:
    assert "<Event><![CDATA[CLICK]]></Event>" in event_xml(USER, "CLICK", "ABOUT")
