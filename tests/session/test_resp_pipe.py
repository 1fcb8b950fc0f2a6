"""The pipelined script connection (bot.session.resp): replies, order, errors, reconnects, timeouts.

Script caches are flushed only on private redis-servers (killed and restarted), never the shared one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import AuthenticationError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.session.resp import RespPipe, pack
from tests.conftest import REDIS_URL
from tests.gateway.support import RedisServer, free_port

ECHO = "return {KEYS[1], ARGV[1], tonumber(ARGV[2]) or false, redis.call('GET', KEYS[1])}"
BUSY_2S = "local t = redis.call('TIME') while redis.call('TIME')[1] - t[1] < 2 do end return 1"
FAIL_ON_X = "if ARGV[1] == 'x' then return redis.error_reply('ERR boom') end return ARGV[1]"


@pytest.fixture
async def client() -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.Redis.from_url(REDIS_URL, socket_timeout=2.0)
    yield redis
    await redis.aclose()


@pytest.fixture
async def pipe(client: aioredis.Redis) -> AsyncIterator[RespPipe]:
    pipe = RespPipe(client)
    yield pipe
    await pipe.close()


@pytest.fixture
async def fail_on_x(client: aioredis.Redis) -> AsyncScript:
    await client.script_load(FAIL_ON_X)
    return client.register_script(FAIL_ON_X)


def test_pack_is_resp() -> None:
    assert pack(b"SET", b"k", "龙".encode()) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n\xe9\xbe\x99\r\n"


async def test_replies_match_redis_py(client: aioredis.Redis, pipe: RespPipe, redis_prefix: str) -> None:
    script = client.register_script(ECHO)
    key = f"{redis_prefix}echo"
    await client.set(key, "值")
    # The shared Redis may not know the script yet: the NOSCRIPT reload is part of this call.
    ours = await pipe.call(script, [key], ["夜校 ok", "42"])
    theirs = await script(keys=[key], args=["夜校 ok", 42])
    assert ours == theirs == [key.encode(), "夜校 ok".encode(), 42, "值".encode()]
    none = f"{redis_prefix}none"
    assert await pipe.call(script, [none], ["", "x"]) == [none.encode(), b"", None, None]


async def test_calls_of_one_turn_leave_together_and_come_back_in_order(pipe: RespPipe, fail_on_x: AsyncScript) -> None:
    args = [str(i) if i % 97 else "x" for i in range(1, 1001)]
    futures = [pipe.call(fail_on_x, ["k"], [a]) for a in args]
    assert pipe._conn is None or not pipe._conn.sent  # nothing written before the turn ends
    results = await asyncio.gather(*futures, return_exceptions=True)
    for arg, result in zip(args, results, strict=True):
        if arg == "x":
            # An error reply fails that call only.
            assert isinstance(result, ResponseError) and "boom" in str(result)
        else:
            assert result == arg.encode()


async def test_a_cancelled_caller_does_not_shift_the_replies(pipe: RespPipe, fail_on_x: AsyncScript) -> None:
    first, second, third = (pipe.call(fail_on_x, ["k"], [a]) for a in ("1", "2", "3"))
    second.cancel()
    assert await first == b"1"
    assert await third == b"3"
    assert await pipe.call(fail_on_x, ["k"], ["4"]) == b"4"


async def test_after_close_calls_fail_at_once(pipe: RespPipe, fail_on_x: AsyncScript) -> None:
    await pipe.close()
    with pytest.raises(RedisConnectionError):
        await pipe.call(fail_on_x, ["k"], ["1"])


async def test_nothing_listening_is_a_connection_error() -> None:
    redis = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    pipe = RespPipe(redis)
    try:
        with pytest.raises(RedisConnectionError, match="cannot connect"):
            await pipe.call(redis.register_script(FAIL_ON_X), ["k"], ["1"])
    finally:
        await pipe.close()
        await redis.aclose()


async def test_a_silent_server_is_a_timeout_and_the_connection_is_dropped() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        while await reader.read(4096):
            pass  # reads everything, answers nothing

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    redis = aioredis.Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_timeout=0.2)
    pipe = RespPipe(redis)
    try:
        script = redis.register_script(FAIL_ON_X)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(RedisTimeoutError):
            await pipe.call(script, ["k"], ["1"])
        assert 0.15 < loop.time() - started < 1.0
        assert pipe._conn is None  # a late reply could not be matched any more: the connection is gone
        with pytest.raises(RedisTimeoutError):
            await pipe.call(script, ["k"], ["2"])  # a fresh connection, as silent
        assert len(accepted) == 2
    finally:
        await pipe.close()
        await redis.aclose()
        server.close()
        for writer in accepted:
            writer.close()
        await server.wait_closed()


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(tmp_path, password="s3cret")
    await server.start()
    yield server
    await server.kill()


async def test_auth_and_db_come_from_the_client(private_redis: RedisServer) -> None:
    url = f"redis://:s3cret@127.0.0.1:{private_redis.port}/3"
    redis = aioredis.Redis.from_url(url)
    pipe = RespPipe(redis)
    try:
        script = redis.register_script("redis.call('SET', KEYS[1], ARGV[1]) return 1")
        assert await pipe.call(script, ["where"], ["db3"]) == 1
        assert await redis.get("where") == b"db3"  # redis-py on db 3 sees it
    finally:
        await pipe.close()
        await redis.aclose()

    wrong = aioredis.Redis.from_url(f"redis://:nope@127.0.0.1:{private_redis.port}/0")
    pipe = RespPipe(wrong)
    try:
        with pytest.raises(AuthenticationError):
            await pipe.call(wrong.register_script("return 1"), [], [])
    finally:
        await pipe.close()
        await wrong.aclose()


async def test_redis_killed_mid_flight_then_restarted(private_redis: RedisServer) -> None:
    redis = aioredis.Redis.from_url(private_redis.url, socket_connect_timeout=0.5)
    pipe = RespPipe(redis)
    script = redis.register_script("return ARGV[1]")
    try:
        assert await pipe.call(script, [], ["before"]) == b"before"
        slow = redis.register_script(BUSY_2S)
        in_flight = pipe.call(slow, [], [])
        await asyncio.sleep(0.3)  # written, the server is busy in the script
        await private_redis.kill()
        with pytest.raises(RedisConnectionError):
            await in_flight
        with pytest.raises(RedisConnectionError):
            await pipe.call(script, [], ["while down"])
        await private_redis.start()
        # A fresh server has no scripts: NOSCRIPT, reload through redis-py, sent again.
        assert await pipe.call(script, [], ["after"]) == b"after"
    finally:
        await pipe.close()
        await redis.aclose()


async def test_unix_socket(tmp_path: Path) -> None:
    sock = tmp_path / "redis.sock"
    server = RedisServer(tmp_path, "--unixsocket", str(sock))
    await server.start()
    redis = aioredis.Redis.from_url(f"unix://{sock}?db=1")
    pipe = RespPipe(redis)
    try:
        assert await pipe.call(redis.register_script("return ARGV[1]"), [], ["via unix"]) == b"via unix"
    finally:
        await pipe.close()
        await redis.aclose()
        await server.kill()


def test_tls_keeps_redis_py() -> None:
    assert RespPipe.supports(aioredis.Redis.from_url("redis://127.0.0.1:6379/0"))
    assert not RespPipe.supports(aioredis.Redis.from_url("rediss://127.0.0.1:6379/0"))
