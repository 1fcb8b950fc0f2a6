"""The job context: what every scheduled job receives, built once per process from ``Settings``."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import aiohttp
import redis.asyncio as aioredis

from bot.channels.wechat import make_api
from bot.channels.wechat.api import WeChatAPI
from bot.channels.wechat.token import TokenStore
from bot.content import Content, load_content
from bot.db import Database
from bot.db.users import Users
from bot.settings import Settings


@dataclass(slots=True, frozen=True)
class JobContext:
    """Like arq's ``ctx``, but typed: jobs use these and never build clients of their own."""

    settings: Settings
    content: Content
    database: Database
    #: Write-behind like the web's, but nothing flushes it on a timer here: a job that calls
    #: ``users.touch`` calls ``users.flush()`` before it returns.
    users: Users
    api: WeChatAPI
    #: The access-token cache ``api`` uses; shared with the web processes when it lives in Redis.
    tokens: TokenStore
    #: ``None`` when ``LONGTUAN_REDIS_URL`` is unset (in-process stores, a first run only).
    redis: aioredis.Redis | None
    clock: Callable[[], float] = time.time

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        *,
        content: Content | None = None,
        clock: Callable[[], float] = time.time,
    ) -> AsyncIterator[JobContext]:
        """Build the context and close everything it opened on exit, in reverse order.

        Nothing connects here: the database pool and Redis connect on first use, so the scheduler
        starts (and keeps its timetable) while a backing service is down, and a job that needs it
        fails and is logged instead.
        """
        content = content or load_content(settings.content_dir or None)
        async with AsyncExitStack() as stack:
            database = Database.from_url(settings.database_url)
            stack.push_async_callback(database.close)
            redis: aioredis.Redis | None = None
            if settings.redis_url:
                # Jobs have no 5-second deadline, so these timeouts are looser than the web's.
                redis = aioredis.Redis.from_url(settings.redis_url, socket_connect_timeout=2.0, socket_timeout=5.0)
                stack.push_async_callback(redis.aclose)
            http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
            stack.push_async_callback(http.close)
            api = make_api(http, settings, redis, clock)
            yield cls(
                settings=settings,
                content=content,
                database=database,
                users=Users(database),
                api=api,
                tokens=api.tokens,
                redis=redis,
                clock=clock,
            )
