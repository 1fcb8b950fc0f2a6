"""Delivery fixtures: an engine on the test database, the fake platform and a fixed clock shared by both."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from bot.db import Database
from bot.db.delivery.outbox import enqueue
from bot.model import Reply
from bot.outbound import Notice
from bot.outbox.engine import Engine
from bot.outbox.worker import open_engine
from bot.settings import Settings
from tests.conftest import PG_URL, FixedClock, make_settings
from tests.fakes.wechat_api import FakeWeChatAPI

#: Template ids of content/outbox.toml, as the fake platform knows them.
TEMPLATES = {
    "tpl-class-reminder": ("thing1", "time2", "thing3"),
    "tpl-waitlist-promoted": ("thing1", "time2"),
    "sub-internship-match": ("thing1", "thing2"),
    "tpl-campaign": ("first", "keyword1", "remark"),
}
MakeEngine = Callable[..., Any]


@pytest.fixture
def platform(fake_wechat: FakeWeChatAPI, clock: FixedClock) -> FakeWeChatAPI:
    """The fake platform on the test's fixed clock, knowing the configured templates."""
    fake_wechat.clock = clock
    for template_id, fields in TEMPLATES.items():
        fake_wechat.add_template(template_id, *fields)
    return fake_wechat


@pytest.fixture
def delivery_settings(redis_prefix: str, platform: FakeWeChatAPI) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"outbox_rate": 2000.0, "outbox_retry_base": 5.0}
        values.update(overrides)
        return make_settings(redis_prefix, platform.base_url, **values)

    return make


@pytest.fixture
async def db(clean_db: None) -> AsyncIterator[Database]:
    database = Database.from_url(PG_URL)
    yield database
    await database.close()


@pytest.fixture
async def make_engine(
    delivery_settings: Callable[..., Settings], clock: FixedClock
) -> AsyncIterator[Callable[..., Any]]:
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:

        async def make(**overrides: Any) -> Engine:
            return await stack.enter_async_context(open_engine(delivery_settings(**overrides), clock=clock))

        yield make


@pytest.fixture
async def engine(make_engine: Callable[..., Any]) -> Engine:
    made: Engine = await make_engine()
    return made


async def add_user(
    db: Database, openid: str, last_seen: float, *, subscribed: bool = True, street: str = "", channel: str = "wechat"
) -> int:
    async with db.session() as s:
        row = await s.execute(
            text("""
            INSERT INTO users (channel, external_id, subscribed, first_scene, first_seen, last_seen, street)
            VALUES (:c, :o, :sub, '', :seen, :seen, :street)
            ON CONFLICT (channel, external_id)
            DO UPDATE SET last_seen = excluded.last_seen, subscribed = excluded.subscribed
            RETURNING id
            """),
            {
                "c": channel,
                "o": openid,
                "sub": subscribed,
                "seen": datetime.fromtimestamp(last_seen, UTC),
                "street": street,
            },
        )
        return int(row.scalar_one())


def notice(openid: str, purpose: str, text_: str, key: str, **fields: str) -> Notice:
    reply = Reply(text=text_)
    return Notice("wechat", openid, purpose, reply, key, fields)


async def queue(db: Database, item: Notice, now: float, **kw: Any) -> int | None:
    async with db.session() as s:
        return await enqueue(s, item, now, **kw)


async def outbox(db: Database, *columns: str) -> list[tuple[Any, ...]]:
    cols = ", ".join(columns or ("idem_key", "status", "way", "last_error"))
    async with db.session() as s:
        return [tuple(r) for r in await s.execute(text(f"SELECT {cols} FROM outbox ORDER BY id"))]


async def ledger(db: Database) -> list[tuple[Any, ...]]:
    async with db.session() as s:
        rows = await s.execute(text("SELECT way, outcome, errcode FROM delivery_attempts ORDER BY id"))
        return [tuple(r) for r in rows]
