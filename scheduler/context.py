"""The job context: the channel's view of the one ``Services`` container, for the channel's own jobs.

The scheduler opens ``bot.services.open_services`` like every other process; the token refresh
and the menu push read the WeChat client, its token store and Redis through this view, and the
programmes' jobs take ``Services`` itself.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import redis.asyncio as aioredis

from bot.channels.wechat.api import WeChatAPI
from bot.channels.wechat.token import TokenStore
from bot.content import Content
from bot.context import Services
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
    def of(cls, services: Services) -> JobContext:
        assert services.wechat is not None, "open_services always builds the WeChat client"
        return cls(
            settings=services.settings,
            content=services.content,
            database=services.db,
            users=services.users,
            api=services.wechat,
            tokens=services.wechat.tokens,
            redis=services.redis,
            clock=services.clock,
        )

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        *,
        content: Content | None = None,
        clock: Callable[[], float] = time.time,
    ) -> AsyncIterator[JobContext]:
        """Open the services (``open_services``) and yield their channel view; all closed on exit.

        Nothing connects here: the database pool and Redis connect on first use, so the scheduler
        starts (and keeps its timetable) while a backing service is down, and a job that needs it
        fails and is logged instead.
        """
        from bot.services import open_services

        async with open_services(settings, content=content, clock=clock) as services:
            yield cls.of(services)
