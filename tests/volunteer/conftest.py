"""Volunteering fixtures: a gateway on a fixed clock with the seeded projects and shifts."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.channels.wechat.simulator import Answer, event_xml
from tests.conftest import FixedClock, GatewayFactory
from tests.harness import ACCOUNT, Gateway
from tests.volunteer.support import Seeded, seed


@dataclass(slots=True)
class Site:
    gw: Gateway
    clock: FixedClock
    data: Seeded

    async def event(self, user: str, event: str, key: str | None = None, **fields: str) -> Answer:
        """An event stamped with the fixed clock: two scans at different instants are two deliveries."""
        xml = event_xml(user, event, key, account=ACCOUNT, at=int(self.clock()), fields=fields)
        return await self.gw.post(xml, user)


@pytest.fixture
async def site(make_gateway: GatewayFactory, clock: FixedClock) -> Site:
    # The clock is fixed, the simulator signs with the real time: no replay window.
    gw = await make_gateway(clock=clock, wechat_replay_window=0)
    return Site(gw, clock, await seed(gw.db, clock()))
