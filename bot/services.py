"""One container of services: the web app, the scheduler, workers and the console open the same one.

``open_services`` builds ``Services`` in dependency order (database, store, outbound HTTP,
notifier, the outbox and its worker) and closes them in reverse on exit. Nothing connects here:
the pools connect on first use, so a process starts while a backing service is down and
recovers when it is back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import aiohttp
import redis.asyncio as aioredis

from bot.channels.wechat import make_api
from bot.content import Content, load_content
from bot.context import Services
from bot.db import Database
from bot.db.users import Users
from bot.metrics import BatchCounts, Metrics
from bot.notifier import ChannelNotifier, WeChatNotifier
from bot.outbound import Ledger, Notifier
from bot.outbox import OutboxNotifier, build_outbox
from bot.outbox.ledger import OutboxLedger
from bot.session.base import Store
from bot.session.memory import MemoryStore
from bot.session.redis import RedisStore
from bot.settings import Settings
from bot.text import Analyzer

log = logging.getLogger("longtuan.services")


def make_redis(url: str) -> aioredis.Redis:
    # Short timeouts: a Redis that does not answer must cost a message well under a second.
    return aioredis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=1.0, health_check_interval=0)


def make_store(settings: Settings, redis: aioredis.Redis | None, clock: Callable[[], float] = time.time) -> Store:
    if redis is None:
        return MemoryStore(
            session_ttl=settings.session_ttl, dedupe_ttl=settings.dedupe_ttl, lock_wait=settings.lock_wait, clock=clock
        )
    return RedisStore(
        redis,
        prefix=settings.redis_prefix,
        session_ttl=settings.session_ttl,
        dedupe_ttl=settings.dedupe_ttl,
        lock_wait=settings.lock_wait,
        clock=clock,
    )


def load_analyzer(content: Content) -> Analyzer:
    analyzer = Analyzer(content.synonyms, content.dict_path)
    analyzer.warm_up()
    return analyzer


@asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    content: Content | None = None,
    analyzer: Analyzer | None = None,
    notifier: Notifier | None = None,
    metrics: Metrics | None = None,
    ledger: Ledger | None = None,
    clock: Callable[[], float] = time.time,
    worker: bool = False,
) -> AsyncIterator[Services]:
    """Open every service this process needs; ``notifier`` replaces the WeChat sender (tests, chat),
    and notices then go to it after their commit instead of into the outbox.

    ``worker``: with the outbox on, this process also runs one delivery worker (``longtuan serve``
    with ``LONGTUAN_WORKER_IN_SERVE``); it is stopped before the rest is closed.
    """
    content = content or load_content(settings.content_dir or None)
    analyzer = analyzer or load_analyzer(content)
    async with AsyncExitStack() as stack:
        db = Database.from_url(settings.database_url, settings.db_pool)
        stack.push_async_callback(db.close)
        redis = make_redis(settings.redis_url) if settings.redis_url else None
        store = make_store(settings, redis, clock)
        stack.push_async_callback(store.close)
        http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        stack.push_async_callback(http.close)
        api = make_api(http, settings, redis, clock)
        metrics = metrics or Metrics()
        metrics.register_live(BatchCounts(db.batchers))
        outbox: OutboxNotifier | None = None
        if notifier is None and settings.outbox:  # the delivery engine: notices go through the outbox
            if worker and not settings.wechat_app_secret.get_secret_value():
                # Nothing can reach WeChat without the app secret (a demo on a laptop): the notices
                # wait in the outbox for a process that has it, instead of failing every few seconds.
                log.warning("no LONGTUAN_WECHAT_APP_SECRET: notices wait in the outbox, no worker runs here")
                worker = False
            outbox = await build_outbox(stack, settings, db, api, metrics, clock, worker=worker)
            notifier = ChannelNotifier({"wechat": outbox})
        services = Services(
            settings=settings,
            content=content,
            analyzer=analyzer,
            store=store,
            db=db,
            users=Users(db, resolution=settings.last_seen_resolution),
            metrics=metrics,
            notifier=notifier or ChannelNotifier({"wechat": WeChatNotifier(api, clock)}),
            outbox=outbox,
            clock=clock,
            ledger=ledger or OutboxLedger(db, clock),
            wechat=api,
            redis=redis,
        )
        yield services
