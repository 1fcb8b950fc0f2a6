"""``longtuan worker``: one delivery worker process (run as many as the rate needs, on any hosts),
and the one worker that ``longtuan serve`` runs inside itself unless told not to (``in_process``).

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

from bot.breaker import Breaker
from bot.channels.wechat import make_api
from bot.db import Database
from bot.errors import ConfigError, Unavailable
from bot.outbox.engine import Engine
from bot.outbox.limiter import Limiter, LocalLimiter, Pacer, Resilient
from bot.outbox.metrics import DeliveryMetrics, Snapshot
from bot.outbox.purposes import load_purposes
from bot.outbox.shared import LocalShared, RedisShared, Shared
from bot.settings import Settings

log = logging.getLogger("longtuan.worker")

#: Seconds between housekeeping rounds (waking waiting rows, refreshing the gauges).
HOUSEKEEPING = 5.0
#: On SIGTERM, lanes get this long to write the results of the claim they hold.
STOP_GRACE = 8.0
#: Seconds the engine leaves an unreachable Redis alone before trying it again (meanwhile it
#: paces itself and sends only customer-service messages: ``bot.outbox.shared``).
REDIS_COOLDOWN = 5.0


def check(settings: Settings) -> None:
    if not settings.redis_url or settings.embedded:
        raise ConfigError("longtuan worker needs LONGTUAN_REDIS_URL (the shared limiter) and LONGTUAN_DATABASE_URL")


@asynccontextmanager
async def open_engine(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.time,
    senders: int = 16,
    metrics: DeliveryMetrics | None = None,
    alone: bool = False,
) -> AsyncIterator[Engine]:
    """An engine with its own pools: database, Redis, HTTP to WeChat (no retries: the engine retries).

    Its own pools, also inside the web process: a busy campaign never takes the connections the
    messages need. ``alone``: this process may be the deployment's only sender, so without Redis
    the pacing and the day's counts are kept in memory (``longtuan serve`` on a first run).
    """
    if not alone:
        check(settings)
    async with AsyncExitStack() as stack:
        db = Database.from_url(settings.database_url, settings.db_pool)
        stack.push_async_callback(db.close)
        rates = {"api": settings.outbox_rate, "mass": settings.outbox_mass_per_minute / 60}
        redis: aioredis.Redis | None = None
        limiter: Pacer
        shared: Shared
        if settings.redis_url:
            redis = aioredis.Redis.from_url(settings.redis_url, socket_connect_timeout=2.0, socket_timeout=5.0)
            stack.push_async_callback(redis.aclose)
            # One breaker for both: after a failure, Redis is left alone for a few seconds.
            breaker = Breaker("outbox redis", cooldown=REDIS_COOLDOWN)
            limiter = Resilient(Limiter(redis, settings.redis_prefix, rates), LocalLimiter(rates), breaker)
            shared = RedisShared(redis, settings.redis_prefix, breaker, clock)
        else:
            limiter, shared = LocalLimiter(rates), LocalShared(clock)
        http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        stack.push_async_callback(http.close)
        api = make_api(http, settings, redis, clock, retries=0)
        metrics = metrics or DeliveryMetrics(CollectorRegistry(), settings.outbox_template_daily)
        purposes = load_purposes(settings.outbox_purposes or None)
        yield Engine(settings, db, api, limiter, shared, purposes, metrics, clock=clock, senders=senders)


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


async def work(
    engine: Engine, stop: asyncio.Event, *, lanes: int, clock: Callable[[], float], refresh: bool = True
) -> None:
    """The worker's lanes until ``stop``: ``lanes`` of single notices, one of mass sends, housekeeping
    (``refresh``: it refreshes the outbox gauges too, unless the process has a refresher already)."""
    settings = engine.settings
    tz = ZoneInfo(settings.timezone)

    async def housekeeping() -> None:
        await engine.wake()
        if refresh:
            await engine.metrics.snapshot.refresh(engine.db, clock(), tz)

    tasks = [
        asyncio.create_task(_lane(f"notices-{i}", engine.run_once, stop, settings.outbox_poll)) for i in range(lanes)
    ]
    tasks.append(asyncio.create_task(_lane("mass", engine.run_batch_once, stop, settings.outbox_poll)))
    tasks.append(asyncio.create_task(_lane("housekeeping", housekeeping, stop, HOUSEKEEPING)))
    log.info("worker started", extra={"lanes": lanes, "rate": settings.outbox_rate})
    try:
        await stop.wait()
    finally:
        stop.set()  # also when this task is cancelled: the lanes end their claims
        _, late = await asyncio.wait(tasks, timeout=STOP_GRACE)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
    log.info("worker stopped")


async def run_worker(
    settings: Settings,
    stop: asyncio.Event,
    *,
    lanes: int = 2,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
    clock: Callable[[], float] = time.time,
) -> None:
    """``longtuan worker``: an engine, its /metrics when asked, and its lanes until ``stop``."""
    async with open_engine(settings, clock=clock) as engine:
        runner: web.AppRunner | None = None
        if metrics_port is not None:
            runner = await serve_metrics(engine.metrics.registry, metrics_host, metrics_port)
        try:
            await work(engine, stop, lanes=lanes, clock=clock)
        finally:
            if runner is not None:
                await runner.cleanup()


@asynccontextmanager
async def in_process(
    settings: Settings, registry: CollectorRegistry, snapshot: Snapshot, clock: Callable[[], float] = time.time
) -> AsyncIterator[None]:
    """One worker inside ``longtuan serve`` (``LONGTUAN_WORKER_IN_SERVE``): one lane of notices, the
    mass lane and housekeeping, counting into the web's /metrics beside the outbox gauges it has."""
    stop = asyncio.Event()
    metrics = DeliveryMetrics(registry, settings.outbox_template_daily, snapshot)
    async with open_engine(settings, clock=clock, metrics=metrics, alone=True) as engine:
        task = asyncio.create_task(work(engine, stop, lanes=1, clock=clock, refresh=False))
        try:
            yield
        finally:
            stop.set()
            await task


async def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> web.AppRunner:
    async def view(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), content_type="text/plain", charset="utf-8")

    app = web.Application()
    app.router.add_get("/metrics", view)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
