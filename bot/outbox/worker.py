"""``longtuan worker``: one delivery worker process (run as many as the rate needs, on any hosts).

Lanes of ``Engine.run_once`` (single notices) and one lane of mass-send batches run side by
side; a housekeeping lane wakes rows whose user interacted and refreshes the outbox gauges.
``--metrics-port`` serves this worker's ``/metrics``. SIGTERM lets every lane finish the claim
it holds (its results are written) before the process ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from zoneinfo import ZoneInfo

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from redis.exceptions import RedisError

from bot.channels.wechat import make_api
from bot.db import Database
from bot.errors import ConfigError, Unavailable
from bot.outbox.engine import Engine
from bot.outbox.limiter import Limiter
from bot.outbox.metrics import DeliveryMetrics
from bot.outbox.purposes import load_purposes
from bot.settings import Settings

log = logging.getLogger("longtuan.worker")

#: Seconds between housekeeping rounds (waking waiting rows, refreshing the gauges).
HOUSEKEEPING = 5.0
#: On SIGTERM, lanes get this long to write the results of the claim they hold.
STOP_GRACE = 8.0


def check(settings: Settings) -> None:
    if not settings.redis_url or settings.embedded:
        raise ConfigError("longtuan worker needs LONGTUAN_REDIS_URL (the shared limiter) and LONGTUAN_DATABASE_URL")


@asynccontextmanager
async def open_engine(
    settings: Settings, *, clock: Callable[[], float] = time.time, senders: int = 16
) -> AsyncIterator[Engine]:
    """An engine with its own pools: database, Redis, HTTP to WeChat (no retries: the engine retries)."""
    check(settings)
    assert settings.redis_url is not None
    async with AsyncExitStack() as stack:
        db = Database.from_url(settings.database_url, settings.db_pool)
        stack.push_async_callback(db.close)
        redis = aioredis.Redis.from_url(settings.redis_url, socket_connect_timeout=2.0, socket_timeout=5.0)
        stack.push_async_callback(redis.aclose)
        http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        stack.push_async_callback(http.close)
        api = make_api(http, settings, redis, clock, retries=0)
        rates = {"api": settings.outbox_rate, "mass": settings.outbox_mass_per_minute / 60}
        limiter = Limiter(redis, settings.redis_prefix, rates)
        metrics = DeliveryMetrics(CollectorRegistry(), settings.outbox_template_daily)
        purposes = load_purposes(settings.outbox_purposes or None)
        yield Engine(settings, db, api, limiter, redis, purposes, metrics, clock=clock, senders=senders)


async def _lane(name: str, work: Callable[[], Awaitable[object]], stop: asyncio.Event, idle: float) -> None:
    """Repeat ``work`` until ``stop``; sleep ``idle`` when it found nothing, longer after an outage."""
    while not stop.is_set():
        pause = 0.0
        try:
            found = await work()
            pause = idle if not found else 0.0
        except (Unavailable, RedisError, OSError) as exc:
            log.warning("worker lane paused: a backing service is down", extra={"lane": name, "error": str(exc)})
            pause = 1.0
        except Exception:
            log.exception("worker lane failed", extra={"lane": name})
            pause = 1.0
        if pause:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)


async def run_worker(
    settings: Settings,
    stop: asyncio.Event,
    *,
    lanes: int = 2,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
    clock: Callable[[], float] = time.time,
) -> None:
    async with open_engine(settings, clock=clock) as engine:
        runner: web.AppRunner | None = None
        if metrics_port is not None:
            runner = await serve_metrics(engine.metrics.registry, metrics_host, metrics_port)
        tz = ZoneInfo(settings.timezone)

        async def housekeeping() -> None:
            await engine.wake()
            await engine.metrics.snapshot.refresh(engine.db, clock(), tz)

        tasks = [
            asyncio.create_task(_lane(f"notices-{i}", engine.run_once, stop, settings.outbox_poll))
            for i in range(lanes)
        ]
        tasks.append(asyncio.create_task(_lane("mass", engine.run_batch_once, stop, settings.outbox_poll)))
        tasks.append(asyncio.create_task(_lane("housekeeping", housekeeping, stop, HOUSEKEEPING)))
        log.info("worker started", extra={"lanes": lanes, "rate": settings.outbox_rate})
        await stop.wait()
        _, late = await asyncio.wait(tasks, timeout=STOP_GRACE)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        if runner is not None:
            await runner.cleanup()
    log.info("worker stopped")


async def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> web.AppRunner:
    async def view(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), content_type="text/plain", charset="utf-8")

    app = web.Application()
    app.router.add_get("/metrics", view)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
