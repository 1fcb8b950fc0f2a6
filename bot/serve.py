"""Serving the app: one process with aiohttp's runner, or N processes under gunicorn.

``--workers N`` is gunicorn's pre-fork arbiter with aiohttp's own gunicorn worker (a well-kept
process manager instead of a hand-written one). The master loads what every worker needs
read-only before it forks (texts, FAQ, and jieba's dictionary, about half of a worker's
memory), freezes it out of the GC's sight, and the workers share those pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.content import Content
    from bot.text import Analyzer


def port_taken(host: str, port: int) -> bool:
    """Whether something already listens on (host, port): checked before start-up says "listening"."""
    if port == 0:
        return False
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def install_uvloop() -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def tune_gc() -> None:
    """Move what start-up built (jieba's dictionary, content) out of the GC's sight, collect young objects less often.

    Without the freeze, each full collection walks those millions of objects: 50-130 ms pauses
    every couple of seconds under load (bench.gateway). A message allocates a few thousand
    short-lived objects; at the default threshold (700) the young generation is collected
    several times per message (bench/README.md has the measured pairs).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


async def _freeze_heap(app: web.Application) -> None:
    tune_gc()


async def _warm_pool(app: web.Application) -> AsyncIterator[None]:
    """Open, beside serving, the connections a burst of signups needs at once (``sessions.seated``),
    so that the first burst after a start does not open them one by one."""
    from bot.app import DATABASE
    from bot.db.courses.sessions import CONCURRENT_SIGNUPS

    warming = asyncio.create_task(app[DATABASE].warm(CONCURRENT_SIGNUPS + 4))
    yield
    await warming  # short (a connect times out after 2 s); the connections then close with the pool


def _app(settings: Settings, content: Content | None = None, analyzer: Analyzer | None = None) -> web.Application:
    from bot.app import create_app

    app = create_app(settings, content=content, analyzer=analyzer)
    app.on_startup.append(_freeze_heap)
    app.cleanup_ctx.append(_warm_pool)
    return app


def serve_one(settings: Settings, host: str, port: int) -> None:
    install_uvloop()
    # handler_cancellation stays off (aiohttp's default, spelled out): a delivery runs in its request's
    # task, and must finish (store its result for the retry, send a late reply) when WeChat hangs up.
    web.run_app(_app(settings), host=host, port=port, access_log=None, print=None, handler_cancellation=False)


def prepare_workers() -> None:
    """The workers count into one folder of metric files that every worker's /metrics sums up.

    Set before prometheus_client is first imported (it picks its value class at import), and
    empty: old files would be counted.
    """
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="longtuan-metrics-")


def serve_many(settings: Settings, host: str, port: int, workers: int) -> None:
    """gunicorn's arbiter on (host, port) with ``workers`` aiohttp workers; returns when it stops."""
    from gunicorn.app.base import BaseApplication

    from bot.content import load_content
    from bot.services import load_analyzer

    metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]  # set by prepare_workers()
    content = load_content(settings.content_dir or None)
    analyzer = load_analyzer(content)
    tune_gc()  # before the fork: the frozen pages stay shared with the workers

    async def factory() -> web.AppRunner:
        app = _app(settings, content, analyzer)
        return web.AppRunner(app, access_log=None, handler_cancellation=False, shutdown_timeout=10)

    worker = "aiohttp.GunicornWebWorker"
    with contextlib.suppress(ImportError):
        import uvloop  # noqa: F401

        worker = "aiohttp.GunicornUVLoopWebWorker"
    options: dict[str, Any] = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "worker_class": worker,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "graceful_timeout": 15,
        "timeout": 30,
        "proc_name": "longtuan-web",
    }

    def child_exit(server: Any, worker: Any) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]

    class _Arbiter(BaseApplication):  # type: ignore[misc]  # gunicorn ships no types
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)
            self.cfg.set("child_exit", child_exit)

        def load(self) -> Any:
            return factory

    try:
        _Arbiter().run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
