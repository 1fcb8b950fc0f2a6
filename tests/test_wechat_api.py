"""Tests for the WeChat API client, the token stores and the notifiers, against the fake WeChat API."""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from bot.channels.wechat.api import WeChatAPI, WeChatAPIError
from bot.channels.wechat.render import reply_to_text
from bot.channels.wechat.token import MemoryTokenStore, RedisTokenStore, TokenStore
from bot.model import Button, Reply
from bot.notifier import ChannelNotifier, RecordingNotifier, WeChatNotifier
from bot.outbound import Notice, Status
from tests.fakes.wechat_api import FakeWeChatAPI

APP_ID = "wx5f2e1c9a7b3d4e60"
APP_SECRET = "9f1c3e5a7b2d4f6081a3c5e7b9d1f2a4"
OPENID = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
SEND = "/cgi-bin/message/custom/send"
HOUR = 3600.0

MakeAPI = Callable[..., WeChatAPI]


class FakeClock:
    """Wall-clock time the fake WeChat server believes in; tests move it by hand."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RecordingStore(MemoryTokenStore):
    """A MemoryTokenStore that remembers the TTLs it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.ttls: list[int] = []

    async def set(self, token: str, ttl: int) -> None:
        self.ttls.append(ttl)
        await super().set(token, ttl)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[FakeWeChatAPI]:
    server = FakeWeChatAPI(APP_ID, APP_SECRET, clock=clock)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[TokenStore]:
    if request.param == "memory":
        yield MemoryTokenStore(lock_timeout=0.3)
        return
    prefix = f"lt-test-{uuid.uuid4().hex}:"
    # Leaving the context closes the client (aclose) under redis 8 and its stale stubs alike.
    async with Redis(host="127.0.0.1", port=6379, db=15) as client:
        try:
            yield RedisTokenStore(client, APP_ID, prefix=prefix, lock_timeout=0.3)
        finally:
            keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
            if keys:
                await client.delete(*keys)


@pytest.fixture
def make_api(fake: FakeWeChatAPI, session: aiohttp.ClientSession) -> MakeAPI:
    def make(tokens: TokenStore | None = None, **kwargs: Any) -> WeChatAPI:
        options: dict[str, Any] = {"base_url": fake.base_url, "app_secret": APP_SECRET, "backoff": 0.0}
        options.update(kwargs)
        return WeChatAPI(session, app_id=options.pop("app_id", APP_ID), tokens=tokens or MemoryTokenStore(), **options)

    return make


def codes(fake: FakeWeChatAPI, path: str = SEND) -> list[str]:
    return [code for called, code in fake.calls if called == path]


async def expect_error(errcode: int, call: Awaitable[object]) -> WeChatAPIError:
    with pytest.raises(WeChatAPIError) as info:
        await call
    assert info.value.errcode == errcode, info.value
    return info.value


class TestTokenStoreContract:
    """Both stores behave alike: the API relies only on these properties."""

    async def test_empty_then_set(self, store: TokenStore) -> None:
        assert await store.get() is None
        await store.set("token-a", 60)
        assert await store.get() == "token-a"

    async def test_set_expires_after_ttl(self, store: TokenStore) -> None:
        await store.set("token-a", 1)
        await asyncio.sleep(1.1)
        assert await store.get() is None

    async def test_invalidate_only_deletes_the_same_token(self, store: TokenStore) -> None:
        await store.set("fresh", 60)
        await store.invalidate("stale")
        assert await store.get() == "fresh"
        await store.invalidate("fresh")
        assert await store.get() is None

    async def test_lock_admits_one_holder_at_a_time(self, store: TokenStore) -> None:
        inside = 0
        most = 0

        async def hold() -> None:
            nonlocal inside, most
            async with store.lock():
                inside += 1
                most = max(most, inside)
                await asyncio.sleep(0.01)
                inside -= 1

        await asyncio.gather(*(hold() for _ in range(3)))
        assert most == 1

    async def test_lock_wait_times_out(self, store: TokenStore) -> None:
        async with store.lock():
            with pytest.raises(TimeoutError):
                async with store.lock():
                    pass

    async def test_lock_released_after_error(self, store: TokenStore) -> None:
        with pytest.raises(RuntimeError):
            async with store.lock():
                raise RuntimeError("refresh failed")
        async with store.lock():
            pass

    async def test_cold_cache_concurrent_callers_fetch_once(
        self, store: TokenStore, make_api: MakeAPI, fake: FakeWeChatAPI
    ) -> None:
        workers = [make_api(store), make_api(store)]
        tokens = await asyncio.gather(*(api.access_token() for _ in range(10) for api in workers))
        assert fake.token_requests == 1
        assert set(tokens) == set(fake.tokens)

    async def test_workers_share_the_cached_token(
        self, store: TokenStore, make_api: MakeAPI, fake: FakeWeChatAPI
    ) -> None:
        first, second = make_api(store), make_api(store)
        assert await first.access_token() == await second.access_token()
        assert fake.token_requests == 1


async def test_a_slow_refresh_keeps_the_redis_lock() -> None:
    """A fetch outlasting the lock's TTL (time-outs, retries of -1) must not let a second worker
    in to fetch a token that would retire the first one: the holder renews the lock."""
    prefix = f"lt-test-{uuid.uuid4().hex}:"
    async with Redis(host="127.0.0.1", port=6379, db=15) as client:
        store = RedisTokenStore(client, APP_ID, prefix=prefix, lock_ttl_ms=300, lock_timeout=0.1)
        try:
            async with store.lock():
                await asyncio.sleep(1.0)  # more than three TTLs
                assert 0 < await client.pttl(store.lock_key) <= 300
                with pytest.raises(TimeoutError):
                    async with store.lock():
                        pass
            assert await client.exists(store.lock_key) == 0  # released, and no renewal left running
            await asyncio.sleep(0.2)
            assert await client.exists(store.lock_key) == 0
        finally:
            keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
            if keys:
                await client.delete(*keys)


async def test_token_fetched_once_and_cached_with_early_refresh(make_api: MakeAPI, fake: FakeWeChatAPI) -> None:
    tokens = RecordingStore()
    api = make_api(tokens)
    fake.interact(OPENID)
    for _ in range(3):
        await api.send_custom_text(OPENID, "hello")
    assert fake.token_requests == 1
    assert tokens.ttls == [7200 - 300]


@pytest.mark.parametrize("errcode", [42001, 40001])
async def test_rejected_token_refreshed_once(errcode: int, make_api: MakeAPI, fake: FakeWeChatAPI) -> None:
    api = make_api()
    fake.interact(OPENID)
    await api.send_custom_text(OPENID, "first")
    if errcode == 42001:
        fake.expire_tokens()
    else:
        fake.fail_next(SEND, errcode)
    await api.send_custom_text(OPENID, "second")
    assert fake.token_requests == 2
    assert codes(fake) == ["ok", str(errcode), "ok"]
    assert len(fake.sent) == 2


async def test_second_consecutive_invalid_token_raises(make_api: MakeAPI, fake: FakeWeChatAPI) -> None:
    fake.interact(OPENID)
    fake.fail_next(SEND, 40001, times=2)
    await expect_error(40001, make_api().send_custom_text(OPENID, "hi"))
    assert fake.token_requests == 2
    assert codes(fake) == ["40001", "40001"]


async def test_system_busy_retried_until_success(make_api: MakeAPI, fake: FakeWeChatAPI) -> None:
    fake.interact(OPENID)
    fake.fail_next(SEND, -1, times=2)
    await make_api(retries=3).send_custom_text(OPENID, "hi")
    assert codes(fake) == ["-1", "-1", "ok"]
    assert len(fake.sent) == 1


async def test_system_busy_forever_gives_up(make_api: MakeAPI, fake: FakeWeChatAPI) -> None:
    fake.interact(OPENID)
    fake.fail_next(SEND, -1, times=10)
    error = await expect_error(-1, make_api(retries=3).send_custom_text(OPENID, "hi"))
    assert error.retryable
    assert codes(fake) == ["-1"] * 4


async def test_network_failure_retried_then_reported(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    closed = FakeWeChatAPI(APP_ID, APP_SECRET)
    base_url = await closed.start()
    await closed.close()
    api = WeChatAPI(session, base_url, APP_ID, APP_SECRET, MemoryTokenStore(), retries=2, backoff=0.0)
    error = await expect_error(-1, api.access_token())
    assert error.retryable and "network error" in error.errmsg
    assert APP_SECRET not in str(error) and APP_SECRET not in caplog.text
    assert caplog.text.count("retrying") == 2


def test_error_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(WeChatAPIError(45015, "response out of time limit", SEND)))
    assert (error.errcode, error.errmsg, error.path) == (45015, "response out of time limit", SEND)
    assert str(error) == f"WeChat API error 45015 on {SEND}: response out of time limit"


async def test_wrong_secret_never_leaks(
    make_api: MakeAPI, fake: FakeWeChatAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "0badc0ffee0badc0ffee0badc0ffee00"
    api = make_api(app_secret=wrong)
    error = await expect_error(40125, api.access_token())
    for text in (str(error), repr(error), repr(api), caplog.text):
        assert wrong not in text and APP_SECRET not in text
    assert "40125" in caplog.text


async def test_token_never_logged(make_api: MakeAPI, fake: FakeWeChatAPI, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    api = make_api()
    fake.interact(OPENID)
    fake.fail_next(SEND, -1)
    await api.send_custom_text(OPENID, "hi")
    fake.expire_tokens()
    await api.send_custom_text(OPENID, "hi again")
    assert len(fake.tokens) == 2
    for token in fake.tokens:
        assert token not in caplog.text
    assert APP_SECRET not in caplog.text


async def test_wrong_appid_and_unknown_path(make_api: MakeAPI, fake: FakeWeChatAPI) -> None:
    await expect_error(40013, make_api(app_id="wx0000000000000000").access_token())
    await expect_error(40066, make_api().call("POST", "/cgi-bin/nonexistent", json={}))
    assert codes(fake, "/cgi-bin/nonexistent") == ["40066"]


async def test_fake_rejects_missing_token_and_bad_grant(session: aiohttp.ClientSession, fake: FakeWeChatAPI) -> None:
    async with session.post(fake.base_url + SEND, json={"touser": OPENID}) as resp:
        assert (await resp.json(content_type=None))["errcode"] == 41001
    params = {"grant_type": "password", "appid": APP_ID, "secret": APP_SECRET}
    async with session.get(fake.base_url + "/cgi-bin/token", params=params) as resp:
        assert (await resp.json(content_type=None))["errcode"] == 40002
    assert fake.token_requests == 0


async def test_48_hour_window(make_api: MakeAPI, fake: FakeWeChatAPI, clock: FakeClock) -> None:
    api = make_api()
    await expect_error(40003, api.send_custom_text(OPENID, "never talked to us"))
    fake.interact(OPENID)
    await api.send_custom_text(OPENID, "within the window")
    clock.now += 48 * HOUR + 1
    # The fake's tokens age with its clock too: expect a refresh (42001), then the window error.
    await expect_error(45015, api.send_custom_text(OPENID, "too late"))
    assert codes(fake) == ["40003", "ok", "42001", "45015"]
    fake.interact(OPENID)
    await api.send_custom_text(OPENID, "window reopened")


async def test_6th_message_refused_until_user_writes_again(make_api: MakeAPI, fake: FakeWeChatAPI) -> None:
    api = make_api()
    fake.interact(OPENID)
    for i in range(5):
        await api.send_custom_text(OPENID, f"message {i}")
    await expect_error(45047, api.send_custom_text(OPENID, "one too many"))
    fake.interact(OPENID)
    await api.send_custom_text(OPENID, "after the user wrote")
    assert len(fake.sent) == 6


async def test_content_must_be_non_empty_and_fit(make_api: MakeAPI, fake: FakeWeChatAPI) -> None:
    api = make_api()
    fake.interact(OPENID)
    await expect_error(44004, api.send_custom_text(OPENID, ""))
    await expect_error(45002, api.send_custom_text(OPENID, "茶" * 683))  # 2049 bytes
    await api.send_custom_text(OPENID, "茶" * 682 + "ab")  # 2048 bytes
    assert len(fake.sent) == 1


async def test_chinese_travels_unescaped(make_api: MakeAPI, fake: FakeWeChatAPI) -> None:
    fake.interact(OPENID)
    await make_api().send_custom_text(OPENID, "龙团欢迎你")
    assert "龙团欢迎你".encode() in fake.raw_sent[0]
    assert b"\\u" not in fake.raw_sent[0]
    assert fake.sent[0]["text"]["content"] == "龙团欢迎你"


async def test_fake_shows_ascii_escapes_literally(
    make_api: MakeAPI, fake: FakeWeChatAPI, session: aiohttp.ClientSession
) -> None:
    api = make_api()
    fake.interact(OPENID)
    body = json.dumps({"touser": OPENID, "msgtype": "text", "text": {"content": "龙团"}})
    params = {"access_token": await api.access_token()}
    async with session.post(fake.base_url + SEND, params=params, data=body) as resp:
        assert (await resp.json(content_type=None))["errcode"] == 0
    assert fake.sent[0]["text"]["content"] == "\\u9f99\\u56e2"


async def test_create_menu(make_api: MakeAPI, fake: FakeWeChatAPI) -> None:
    api = make_api()
    tea = {"type": "click", "name": "今日茶", "key": "TEA"}
    menu = {"button": [tea, {"name": "更多", "sub_button": [tea] * 5}]}
    await api.create_menu(menu)
    assert fake.menu == menu
    await expect_error(40016, api.create_menu({"button": [tea] * 4}))
    await expect_error(40023, api.create_menu({"button": [{"name": "更多", "sub_button": [tea] * 6}]}))
    await expect_error(40018, api.create_menu({"button": [{**tea, "name": "一二三四五六"}]}))
    assert fake.menu == menu


async def test_wechat_notifier_sends_rendered_reply_with_buttons(make_api: MakeAPI, fake: FakeWeChatAPI) -> None:
    notifier = WeChatNotifier(make_api())
    fake.interact(OPENID)
    reply = Reply(key="menu.pick", text="选一款茶：", buttons=[Button("龙井", payload="longjing")])
    assert (await notifier.send(_notice("wechat", OPENID, reply))).ok
    content = fake.sent[0]["text"]["content"]
    assert content == reply_to_text(reply)
    assert '<a href="weixin://bizmsgmenu?msgmenucontent=longjing&msgmenuid=1">龙井</a>' in content
    assert (await notifier.send(_notice("wechat", OPENID, Reply.nothing()))).status is Status.DROPPED
    assert len(fake.sent) == 1
    assert fake.calls.count((SEND, "ok")) == 1


async def test_channel_notifier_routes_by_channel(make_api: MakeAPI, fake: FakeWeChatAPI) -> None:
    terminal = RecordingNotifier()
    notifier = ChannelNotifier({"wechat": WeChatNotifier(make_api()), "terminal": terminal})
    fake.interact(OPENID)
    await notifier.send(_notice("terminal", "me", Reply(key="hi", text="你好")))
    await notifier.send(_notice("terminal", "me", Reply.nothing()))
    await notifier.send(_notice("wechat", OPENID, Reply(key="hi", text="你好")))
    assert terminal.sent == [("terminal", "me", "你好")]
    assert [m["text"]["content"] for m in fake.sent] == ["你好"]
    with pytest.raises(KeyError, match="telegram"):
        await notifier.send(_notice("telegram", "42", Reply(key="hi", text="hi")))


def _notice(channel: str, user: str, reply: Reply) -> Notice:
    return Notice(channel, user, "test", reply, key=f"test:{user}")


async def test_wechat_notifier_maps_refusals_to_results(make_api: MakeAPI, fake: FakeWeChatAPI) -> None:
    notifier = WeChatNotifier(make_api())
    # The user wrote 49 hours ago: the 48-hour window is closed, WeChat answers 45015.
    fake.interact(OPENID, at=fake.clock() - 49 * 3600)
    result = await notifier.send(_notice("wechat", OPENID, Reply(key="hi", text="你好")))
    assert result.status is Status.DROPPED and result.reason == "outside_window"
    assert fake.sent == []
