"""Redis stopped mid-test, PostgreSQL unreachable: the gateway keeps answering and recovers by itself.

Never the shared services: Redis is a private redis-server on a free port, PostgreSQL is reached
through a TCP proxy the test stops and starts.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.db import Database
from bot.db.models import User
from bot.errors import Unavailable
from tests.conftest import PG_URL, GatewayFactory
from tests.gateway.proxy import TcpProxy
from tests.gateway.support import CountingRouter, RedisServer, healthz, poll
from tests.harness import Gateway

#: Generous next to the breaker's 1-second cool-down, and still quick.
RECOVERY = 6.0


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(tmp_path)
    await server.start()
    yield server
    await server.kill()


@pytest.fixture
async def pg_proxy() -> AsyncIterator[TcpProxy]:
    """Forwards a local port to the test database's server (requested first, so it outlives the app)."""
    url = make_url(PG_URL)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    yield proxy
    await proxy.stop()


def numbered(gateway: Gateway) -> str:
    return "\n".join(f"{i}. {s}" for i, s in enumerate(gateway.services.content.streets, 1))


async def test_redis_dies_then_comes_back(make_gateway: GatewayFactory, private_redis: RedisServer) -> None:
    gateway = await make_gateway(redis_url=private_redis.url)
    user, busy = "o-outage-r1", gateway.expected("system.busy")
    ask = gateway.expected("profile.ask_street", streets=numbered(gateway))
    await gateway.dialog(user, [("设置街道", "profile.ask_street", {"streets": numbered(gateway)})])

    await private_redis.kill()
    statuses = []
    for said, key in [("帮助", "help.main"), ("夜校怎么报名", "faq.night_school.signup"), ("帮助", "help.main")]:
        started = time.monotonic()
        answer = await gateway.say(user, said)
        statuses.append(answer.status)
        assert answer.text.startswith(gateway.expected(key)), (said, answer.text)
        assert time.monotonic() - started < 1.0, "a dead Redis must not cost a message a timeout"
    needs_state = await gateway.say(user, "设置街道")
    assert needs_state.status == 200 and needs_state.text == busy
    welcome = await gateway.event("o-outage-r2", "subscribe", "")
    assert welcome.status == 200 and welcome.text == gateway.expected("welcome.subscribe")
    assert statuses == [200, 200, 200]

    status, health = await healthz(gateway)
    assert status == 503 and health["redis"].startswith("down") and health["database"] == "ok", health

    await private_redis.start()  # same port, empty: what was in the dead one is gone

    async def stateful_again() -> bool:
        answer = await gateway.say(user, "设置街道")
        assert answer.status == 200
        return answer.text == ask

    assert await poll(stateful_again, within=RECOVERY, interval=0.2), "no recovery after Redis came back"
    await gateway.dialog(user, [("4", "profile.street_saved", {"street": "坂田"})])
    status, health = await healthz(gateway)
    assert status == 200 and health["redis"] == "ok", health


async def test_redis_hangs_then_wakes_up(make_gateway: GatewayFactory, private_redis: RedisServer) -> None:
    """A Redis that accepts connections and never answers (stopped, swapping, a black-holed
    network) is worse than a dead one: every call waits for its time-out (1 s). The gateway still
    answers each message well inside WeChat's 5 seconds, and recovers when Redis does."""
    gateway = await make_gateway(redis_url=private_redis.url)
    user, busy = "o-outage-h1", gateway.expected("system.busy")
    ask = gateway.expected("profile.ask_street", streets=numbered(gateway))
    assert (await gateway.say(user, "帮助")).text.startswith(gateway.expected("help.main"))

    private_redis.freeze()
    slowest = 0.0
    for said, key in [("帮助", "help.main"), ("夜校怎么报名", "faq.night_school.signup")] * 3:
        started = time.monotonic()
        answer = await gateway.say(user, said)
        slowest = max(slowest, time.monotonic() - started)
        assert answer.status == 200 and answer.text.startswith(gateway.expected(key)), (said, answer.text)
    assert slowest < 2.5, f"a hung Redis cost a message {slowest:.1f} s"
    needs_state = await gateway.say(user, "设置街道")
    assert needs_state.status == 200 and needs_state.text == busy
    status, health = await healthz(gateway)
    assert status == 503 and health["redis"].startswith("down"), health

    private_redis.thaw()

    async def stateful_again() -> bool:
        answer = await gateway.say(user, "设置街道")
        assert answer.status == 200
        return answer.text == ask

    assert await poll(stateful_again, within=RECOVERY, interval=0.2), "no recovery after Redis woke up"
    await gateway.dialog(user, [("4", "profile.street_saved", {"street": "坂田"})])


async def test_database_unreachable_then_back(pg_proxy: TcpProxy, make_gateway: GatewayFactory) -> None:
    database_url = make_url(PG_URL).set(host="127.0.0.1", port=pg_proxy.port).render_as_string(hide_password=False)
    # Every touch is written (no resolution): the last-seen times of the outage itself are checked.
    gateway = await make_gateway(database_url=database_url, last_seen_resolution=0)
    regular, newcomer = "o-outage-d1", "o-outage-d2"
    busy = gateway.expected("system.busy")

    assert (await gateway.event(regular, "subscribe", "")).text == gateway.expected("welcome.subscribe")
    await gateway.dialog(
        regular,
        [
            ("设置街道", "profile.ask_street", {"streets": numbered(gateway)}),
            ("4", "profile.street_saved", {"street": "坂田"}),
        ],
    )
    await gateway.flush_users()

    await pg_proxy.stop()
    down_since = time.time()
    await gateway.dialog(regular, [("帮助", "help.main"), ("夜校怎么报名", "faq.night_school.signup")])
    mine = await gateway.say(regular, "我的街道")
    assert mine.status == 200 and mine.text == busy

    joined = await gateway.event(newcomer, "subscribe", "")
    assert joined.status == 200 and joined.text == gateway.expected("welcome.subscribe")
    await gateway.dialog(newcomer, [("设置街道", "profile.ask_street", {"streets": numbered(gateway)})])
    saving = await gateway.say(newcomer, "7")  # the flow's state lives in Redis; the street cannot be saved
    assert saving.status == 200 and saving.text == busy

    status, health = await healthz(gateway)
    assert status == 503 and health["database"].startswith("down") and health["redis"] == "ok", health
    with pytest.raises(Unavailable):
        await gateway.flush_users()
    assert gateway.services.users.pending >= 2, "touches are queued while the database is away"

    await pg_proxy.start()  # the same port again

    async def flushed() -> bool:
        try:
            await gateway.flush_users()
        except Unavailable:
            return False
        return gateway.services.users.pending == 0

    assert await poll(flushed, within=RECOVERY, interval=0.2), "queued touches never reached the database"

    db = Database.from_url(PG_URL)
    try:
        async with db.session() as s:
            rows = {u.external_id: u for u in (await s.execute(select(User))).scalars()}
    finally:
        await db.close()
    assert rows[newcomer].subscribed and rows[newcomer].subscribed_at is not None, "the subscribe was lost"
    assert rows[regular].last_seen.timestamp() >= int(down_since), "the outage's last-seen times were lost"

    # The flow waited through the outage: the same answer now goes through.
    await gateway.dialog(newcomer, [("7", "profile.street_saved", {"street": "园山"})])
    await gateway.dialog(regular, [("我的街道", "profile.show", {"street": "坂田"})])
    status, health = await healthz(gateway)
    assert status == 200 and health["database"] == "ok", health


async def test_with_redis_dead_a_late_reply_still_goes_out(
    make_gateway: GatewayFactory, private_redis: RedisServer
) -> None:
    """No dedupe and no session without Redis, but the customer-service send needs only a token."""
    slow = CountingRouter(delay=lambda msg: 0.6)
    gateway = await make_gateway(redis_url=private_redis.url, router=slow, wechat_reply_deadline=0.2)
    await private_redis.kill()
    answer = await gateway.say("o-outage-r3", "夜校怎么报名")
    assert (answer.status, answer.body) == (200, "success")

    async def sent() -> bool:
        return len(gateway.fake.sent) == 1

    assert await poll(sent, within=3.0), "the late reply never reached the customer-service API"
    message = gateway.fake.sent[0]
    assert message["touser"] == "o-outage-r3" and "夜校怎么报名" in message["text"]["content"]
