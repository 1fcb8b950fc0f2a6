"""The application factory: ``create_app(settings)`` wires services into an aiohttp app.

Resources are opened and closed in ``cleanup_ctx`` in dependency order: database, store,
outbound HTTP, the outbox and (``LONGTUAN_WORKER_IN_SERVE``) its worker, then the background
flusher; nothing connects at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from bot.channels.wechat.webhook import WeChatWebhook
from bot.content import Content, load_content
from bot.context import Services
from bot.db import Database
from bot.errors import Unavailable
from bot.gateway.pipeline import Pipeline
from bot.metrics import Metrics
from bot.outbound import Ledger, Notifier
from bot.router import Router
from bot.sealing import sealer_for
from bot.services import load_analyzer, open_services
from bot.settings import Settings
from bot.text import Analyzer

log = logging.getLogger("longtuan.app")

SERVICES = web.AppKey("services", Services)
PIPELINE = web.AppKey("pipeline", Pipeline)
DATABASE = web.AppKey("database", Database)


def create_app(
    settings: Settings,
    *,
    notifier: Notifier | None = None,
    content: Content | None = None,
    analyzer: Analyzer | None = None,
    router: Router | None = None,
    ledger: Ledger | None = None,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    """Build the app. ``notifier`` replaces the WeChat customer-service sender (terminal chat);
    ``router`` replaces the handlers (tests of the gateway itself, e.g. a deliberately slow one)."""
    from handlers import build_router

    # Registration seals ID numbers: without a key, refuse to start rather than fail a volunteer.
    sealer_for(settings.data_key)
    # Bodies are read as sent: the webhook decodes a Content-Encoding itself (validate.decoded).
    app = web.Application(client_max_size=settings.max_body_bytes, handler_args={"auto_decompress": False})
    content = content or load_content(settings.content_dir or None)
    analyzer = analyzer or load_analyzer(content)
    metrics = Metrics()

    async def resources(app: web.Application) -> AsyncIterator[None]:
        async with open_services(
            settings,
            content=content,
            analyzer=analyzer,
            notifier=notifier,
            metrics=metrics,
            ledger=ledger,
            clock=clock,
            worker=settings.worker_in_serve,
        ) as services:
            pipeline = Pipeline(services, router or build_router(content, analyzer))
            app[SERVICES], app[PIPELINE], app[DATABASE] = services, pipeline, services.db
            webhook = WeChatWebhook(settings, pipeline, services.store, metrics, clock, services.ledger)
            app.router.add_get("/wechat", webhook.verify)
            app.router.add_post("/wechat", webhook.receive)
            users = services.users
            flusher = asyncio.create_task(users.run_flusher())
            log.info(
                "started",
                extra={
                    "database": services.db.dialect,
                    "store": type(services.store).__name__,
                    "safe_mode": settings.safe_mode,
                },
            )
            yield
            await pipeline.drain()
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            with contextlib.suppress(Unavailable):
                await users.flush()

    app.cleanup_ctx.append(resources)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view(metrics))
    return app


async def healthz(request: web.Request) -> web.Response:
    """200 when the database and the store answer; 503 naming what is down."""
    services, db = request.app[SERVICES], request.app[DATABASE]
    checks: dict[str, str] = {}
    for name, probe in (
        ("database", db.ping),
        ("redis" if services.settings.redis_url else "store", services.store.ping),
    ):
        checks[name] = await _probe(probe)
    ok = all(v == "ok" for v in checks.values())
    return web.json_response({"status": "ok" if ok else "degraded", **checks}, status=200 if ok else 503)


async def _probe(probe: Callable[[], Awaitable[None]]) -> str:
    """The verdict on one dependency: "ok", or "down: why" after a second try.

    A connection pooled before an outage is dead after it, and the first command on it fails
    even though the service is back (a restarted Redis no probe saw go: a false 503). The
    client drops that connection, so the second try runs on a fresh one. A probe that hangs
    for the whole time-out is not tried again: that service is not answering.
    """
    try:
        await asyncio.wait_for(probe(), 2.0)
        return "ok"
    except TimeoutError as exc:
        return f"down: {exc}"
    except Unavailable:
        pass
    try:
        await asyncio.wait_for(probe(), 2.0)
        return "ok"
    except (Unavailable, TimeoutError) as exc:
        return f"down: {exc}"


def metrics_view(metrics: Metrics) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def view(request: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), content_type="text/plain", charset="utf-8")

    return view
