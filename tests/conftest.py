"""Test fixtures: real PostgreSQL and Redis (the run fails, never skips, without them), fake platforms."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
import redis.asyncio as aioredis
from sqlalchemy import make_url, text

from bot.app import create_app
from bot.content import Content, load_content
from bot.context import Services
from bot.db import Database
from bot.db.migrate import upgrade
from bot.db.tables import metadata
from bot.notifier import RecordingNotifier
from bot.services import open_services
from bot.settings import Settings
from bot.text import Analyzer
from tests.fakes.wechat_api import FakeWeChatAPI
from tests.harness import Gateway

_BASE_URL = os.environ.get("LONGTUAN_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/longtuan_test")
#: Each pytest-xdist worker (``-n 2``: gw0, gw1) has a database of its own, made on its first run.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
PG_URL = (
    make_url(_BASE_URL).set(database=f"{make_url(_BASE_URL).database}_{_WORKER}").render_as_string(hide_password=False)
    if _WORKER
    else _BASE_URL
)
REDIS_URL = os.environ.get("LONGTUAN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TOKEN = "longtuan-test-token"
APP_ID = "wx4f1c2a9b8e7d6c50"
SECRET = "test-app-secret-9f8e7d6c5b4a"
#: 43 characters, as the WeChat console generates them.
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
#: The key that seals ID numbers (a Fernet key: 32 bytes of URL-safe base64).
DATA_KEY = "dGVzdC1kYXRhLWtleS1sb25ndHVhbi0wMDAwMDAwMDA="

GatewayFactory = Callable[..., Awaitable[Gateway]]
#: Keyword arguments of make_gateway that go to create_app; every other one is a setting.
APP_ARGUMENTS = ("router", "notifier", "clock", "ledger")


async def _create_worker_database() -> None:
    """A worker's own database, beside the configured one (its server, its user): made when missing."""
    base = make_url(_BASE_URL)
    name = make_url(PG_URL).database
    conn = await asyncpg.connect(
        host=base.host, port=base.port, user=base.username, password=base.password, database=base.database
    )
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _check_services() -> None:
    if _WORKER:
        await _create_worker_database()
    db = Database.from_url(PG_URL)
    try:
        await db.ping()
    finally:
        await db.close()
    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    finally:
        await client.aclose()


def pytest_sessionstart(session: pytest.Session) -> None:
    try:
        asyncio.run(_check_services())
    except Exception as exc:  # noqa: BLE001 - any failure here means the run cannot prove anything
        pytest.exit(
            f"PostgreSQL ({PG_URL}) or Redis ({REDIS_URL}) is unreachable: {exc}. Run scripts/services.sh first.",
            returncode=3,
        )

    async def reset_schema() -> None:
        db = Database.from_url(PG_URL)
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await db.close()

    if session.config.getoption("numprocesses", None) and not _WORKER:
        return  # pytest-xdist's controller runs no test: each worker resets its own database
    asyncio.run(reset_schema())
    upgrade(PG_URL)


@cache
def shared_content() -> tuple[Content, Analyzer]:
    """Content and jieba are loaded once per run (jieba's dictionary takes a second)."""
    content = load_content()
    analyzer = Analyzer(content.synonyms, content.dict_path)
    analyzer.warm_up()
    return content, analyzer


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    prefix = f"lt-test-{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = aioredis.Redis.from_url(REDIS_URL)
    keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=500)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def clean_db() -> AsyncIterator[None]:
    db = Database.from_url(PG_URL)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    async with db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    await db.close()
    yield


@pytest.fixture
async def fake_wechat() -> AsyncIterator[FakeWeChatAPI]:
    fake = FakeWeChatAPI(APP_ID, SECRET)
    await fake.start()
    yield fake
    await fake.close()


def make_settings(redis_prefix: str, api_base: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "wechat_token": TOKEN,
        "wechat_app_id": APP_ID,
        "wechat_app_secret": SECRET,
        "wechat_aes_key": AES_KEY,
        "data_key": DATA_KEY,
        "wechat_allow_plain": True,
        "wechat_api_base": api_base,
        "database_url": PG_URL,
        "redis_url": REDIS_URL,
        "redis_prefix": redis_prefix,
        "log_json": True,
    }
    unknown = set(overrides) - set(Settings.model_fields)
    assert not unknown, f"not settings: {unknown}"  # Settings ignores unknown names; a typo must not pass
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def make_gateway(redis_prefix: str, clean_db: None, fake_wechat: FakeWeChatAPI) -> AsyncIterator[GatewayFactory]:
    """Start a gateway on loopback: ``await make_gateway(mode="safe", router=slow, wechat_reply_deadline=0.3)``."""
    started: list[Gateway] = []

    async def make(mode: str = "plain", **overrides: Any) -> Gateway:
        content, analyzer = shared_content()
        app_args = {name: overrides.pop(name) for name in APP_ARGUMENTS if name in overrides}
        settings = make_settings(redis_prefix, fake_wechat.base_url, **overrides)
        app = create_app(settings, content=content, analyzer=analyzer, **app_args)
        gateway = await Gateway(app, fake_wechat, mode).start()
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        await gateway.close()


@pytest.fixture
async def gateway(make_gateway: GatewayFactory) -> Gateway:
    return await make_gateway()


class FixedClock:
    """A clock that only moves when told: jobs and flows are tested at chosen instants."""

    def __init__(self, at: float | datetime) -> None:
        self.t = at.timestamp() if isinstance(at, datetime) else float(at)

    def __call__(self) -> float:
        return self.t

    def set(self, at: float | datetime) -> None:
        self.t = at.timestamp() if isinstance(at, datetime) else float(at)

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> FixedClock:
    """Tuesday 2026-12-01 10:00 in Shenzhen (Asia/Shanghai)."""
    return FixedClock(datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))


@pytest.fixture
async def services(
    redis_prefix: str, clean_db: None, fake_wechat: FakeWeChatAPI, clock: FixedClock
) -> AsyncIterator[Services]:
    """The same Services the web app opens, on the test database, a fixed clock and a recording notifier.

    Jobs are called with it directly: ``await send_reminders(services)``; ``services.notifier.notices``
    holds what went out.
    """
    content, analyzer = shared_content()
    settings = make_settings(redis_prefix, fake_wechat.base_url)
    async with open_services(
        settings, content=content, analyzer=analyzer, notifier=RecordingNotifier(), clock=clock
    ) as svc:
        yield svc


@pytest.fixture
async def outbox_services(
    redis_prefix: str, clean_db: None, fake_wechat: FakeWeChatAPI, clock: FixedClock
) -> AsyncIterator[Services]:
    """``services`` as the scheduler and the CLI open them: notices go into the outbox (no worker
    runs, so the rows stay as queued); ``outbox_rows`` reads them."""
    content, analyzer = shared_content()
    settings = make_settings(redis_prefix, fake_wechat.base_url)
    async with open_services(settings, content=content, analyzer=analyzer, clock=clock) as svc:
        assert svc.outbox is not None
        yield svc


async def outbox_rows(db: Database) -> list[tuple[str, str, str, str]]:
    """(idem_key, purpose, status, payload text) of every outbox row, in order."""
    async with db.session() as s:
        rows = await s.execute(text("SELECT idem_key, purpose, status, payload->>'text' FROM outbox ORDER BY id"))
        return [(r[0], r[1], r[2], r[3]) for r in rows]
