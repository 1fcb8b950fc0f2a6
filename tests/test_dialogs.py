"""Conversations through the real HTTP entry: what a young person says and what they read back."""

from __future__ import annotations

import time

from sqlalchemy import select

from bot.db.models import User
from tests.conftest import GatewayFactory
from tests.harness import Gateway


async def test_follow_then_ask_for_help(gateway: Gateway) -> None:
    answer = await gateway.event("o-young-1", "subscribe", "")
    assert answer.text == gateway.expected("welcome.subscribe")
    assert answer.fields["ToUserName"] == "o-young-1" and answer.fields["FromUserName"] == "gh_longtuan"
    await gateway.dialog(
        "o-young-1",
        [
            ("帮助", "help.main"),
            ("夜校怎么报名", "faq.night_school.signup"),
            ("志愿时长怎么查", "faq.volunteer.hours"),
            ("今天天气不错", "fallback.text"),
        ],
    )
    await gateway.flush_users()
    async with gateway.db.session() as s:
        user = (await s.execute(select(User).where(User.external_id == "o-young-1"))).scalar_one()
    assert user.subscribed and user.channel == "wechat" and user.subscribed_at is not None


async def test_set_street_flow(gateway: Gateway) -> None:
    streets = gateway.services.content.streets
    numbered = "\n".join(f"{i}. {s}" for i, s in enumerate(streets, 1))
    await gateway.dialog(
        "o-young-2",
        [
            ("我的街道", "profile.none"),
            ("设置街道", "profile.ask_street", {"streets": numbered}),
            ("火星", "profile.street_invalid", {"streets": numbered}),
            ("4", "profile.street_saved", {"street": "坂田"}),
            ("我的街道", "profile.show", {"street": "坂田"}),
        ],
    )
    async with gateway.db.session() as s:
        user = (await s.execute(select(User).where(User.external_id == "o-young-2"))).scalar_one()
    assert user.street == "坂田"


async def test_a_flow_left_waiting_times_out_politely(make_gateway: GatewayFactory) -> None:
    later = [0.0]
    gateway = await make_gateway(clock=lambda: time.time() + later[0], flow_timeout=60)
    streets = gateway.services.content.streets
    numbered = "\n".join(f"{i}. {s}" for i, s in enumerate(streets, 1))
    await gateway.dialog("o-young-3", [("设置街道", "profile.ask_street", {"streets": numbered})])
    later[0] = 61  # the user comes back after LONGTUAN_FLOW_TIMEOUT
    answer = await gateway.say("o-young-3", "4")
    # Told the question lapsed, then "4" is read afresh (not as a street): the fallback.
    assert answer.text == gateway.expected("system.flow_timeout") + "\n\n" + gateway.expected("fallback.text")
    async with gateway.db.session() as s:
        street = (await s.execute(select(User.street).where(User.external_id == "o-young-3"))).scalar_one_or_none()
    assert not street
    # And the flow can start again.
    await gateway.dialog("o-young-3", [("设置街道", "profile.ask_street", {"streets": numbered})])
