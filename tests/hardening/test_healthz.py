"""/healthz after Redis came back: a stale pooled connection must not report a live Redis as down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import GatewayFactory
from tests.gateway.support import RedisServer, healthz


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(tmp_path)
    await server.start()
    yield server
    await server.kill()


async def test_healthz_right_after_redis_restarted_unprobed(
    make_gateway: GatewayFactory, private_redis: RedisServer
) -> None:
    gateway = await make_gateway(redis_url=private_redis.url)
    status, health = await healthz(gateway)
    assert status == 200 and health["redis"] == "ok", health  # a connection is now in the pool

    # Redis dies and comes back while nothing probes it: the pooled connection is dead.
    await private_redis.kill()
    await private_redis.start()

    status, health = await healthz(gateway)
    assert status == 200 and health == {"status": "ok", "database": "ok", "redis": "ok"}, health
