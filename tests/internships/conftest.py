"""Fixtures of the 展翅计划 tests: a gateway on a fixed day with the demo posts loaded."""

from __future__ import annotations

import pytest

from bot.notifier import RecordingNotifier
from tests.conftest import FixedClock, GatewayFactory
from tests.harness import Gateway
from tests.internships.support import load_demo_posts


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
async def gw(make_gateway: GatewayFactory, clock: FixedClock, notifier: RecordingNotifier) -> Gateway:
    """The gateway at Tuesday 2026-12-01 10:00 in Shenzhen, with the 194 demo posts open for weeks."""
    # The simulator signs with the real time: the replay check is off under the fixed clock.
    gateway = await make_gateway(clock=clock, notifier=notifier, wechat_replay_window=0)
    await load_demo_posts(gateway.db, gateway.services.local_now().date(), clock())
    return gateway
