"""The ``longtuan`` command: serve, migrate, demo, chat."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.errors import ConfigError
from bot.settings import Settings, load_settings

log = logging.getLogger("longtuan.cli")


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        print(f"longtuan: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _install_uvloop() -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


async def _demo(settings: Settings) -> dict[str, int]:
    from bot.content import DEFAULT_DIR
    from bot.db import Database
    from bot.db.demo import load_demo
    from bot.db.migrate import upgrade_async

    if not settings.uses_postgres:
        await upgrade_async(settings.database_url)
    db = Database.from_url(settings.database_url)
    try:
        return await load_demo(db, Path(settings.content_dir or DEFAULT_DIR) / "demo")
    finally:
        await db.close()


def cmd_serve(args: argparse.Namespace) -> None:
    from bot.logs import configure

    settings = _settings()
    configure(settings.log_level, settings.log_json)
    if args.demo:
        loaded = asyncio.run(_demo(settings))
        log.info("demo data loaded", extra=loaded)
    host, port = args.host or settings.host, args.port if args.port is not None else settings.port
    workers = args.workers
    if workers > 1 and not (settings.redis_url and settings.uses_postgres):
        # De-duplication, locks and sessions must be shared between the workers.
        print("longtuan: --workers needs LONGTUAN_REDIS_URL and a PostgreSQL database", file=sys.stderr)
        raise SystemExit(2)
    print(f"龙团 listening on http://{host}:{port}/wechat  (health: /healthz, metrics: /metrics)", file=sys.stderr)
    if workers <= 1:
        _serve_one(settings, host, port, reuse_port=False)
        return
    _serve_many(settings, host, port, workers)


def _serve_one(settings: Settings, host: str, port: int, *, reuse_port: bool) -> None:
    from aiohttp import web

    from bot.app import create_app
    from bot.logs import configure

    configure(settings.log_level, settings.log_json)  # again: a spawned worker starts afresh
    _install_uvloop()
    app = create_app(settings)
    app.on_startup.append(_freeze_heap)
    # handler_cancellation stays off (aiohttp's default, spelled out): a delivery runs in its request's
    # task, and must finish (store its result for the retry, send a late reply) when WeChat hangs up.
    web.run_app(
        app, host=host, port=port, access_log=None, print=None, reuse_port=reuse_port, handler_cancellation=False
    )


def _serve_many(settings: Settings, host: str, port: int, workers: int) -> None:
    """N processes on one port (SO_REUSEPORT: the kernel spreads connections); the parent only
    watches them and passes SIGTERM/SIGINT on. One asyncio process uses one core."""
    import multiprocessing
    import shutil
    import signal
    import tempfile

    # The workers count into one folder of metric files that every worker's /metrics sums up; it
    # must be set before they import prometheus_client, and empty (old files would be counted).
    metrics_dir = tempfile.mkdtemp(prefix="longtuan-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter each: nothing shared by fork
    procs = [
        ctx.Process(
            target=_serve_one, args=(settings, host, port), kwargs={"reuse_port": True}, name=f"longtuan-web-{i}"
        )
        for i in range(workers)
    ]
    started: list[multiprocessing.process.BaseProcess] = []  # the ones whose start was begun
    stopping = False

    def stop(signum: int, frame: object) -> None:
        # SIGTERM: a serving worker shuts down gracefully (run_app handles it), one still starting
        # up simply ends (-SIGTERM, expected below). SIGINT would end the latter in a
        # KeyboardInterrupt traceback and exit code 1.
        nonlocal stopping
        stopping = True
        for proc in started:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)

    # Set before the first worker starts: a stop arriving while they start stops those started and
    # starts no more (the parent dying mid-start would leave a worker reading its arguments from a
    # closed pipe: a traceback).
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for worker in procs:
        if stopping:
            break
        started.append(worker)
        try:
            worker.start()
        except OSError:
            if not stopping:
                raise
            # Stopped while handing the worker its arguments: it ended, the pipe broke.
    for proc in started:
        if proc.pid is not None:
            proc.join()
    shutil.rmtree(metrics_dir, ignore_errors=True)
    failed = [p.name for p in started if p.exitcode not in (0, -signal.SIGINT, -signal.SIGTERM)]
    if failed:
        raise SystemExit(f"longtuan: worker(s) {', '.join(failed)} exited abnormally")


async def _freeze_heap(app: object) -> None:
    """Move what start-up built (jieba's dictionary, content, pools) out of the GC's sight.

    Without this, each full collection walks those millions of objects: 50-130 ms pauses every
    couple of seconds under load (bench.gateway). They live as long as the process anyway.
    Young collections are made rarer too (below).
    """
    gc.collect()
    gc.freeze()
    # A message allocates a few thousand short-lived objects; at the default threshold (700)
    # the young generation is collected several times per message. Measured with bench.gateway,
    # three interleaved A/B pairs: 528-562 against 556-647 us of CPU per request.
    gc.set_threshold(50_000, 20, 100)


def cmd_migrate(args: argparse.Namespace) -> None:
    from bot.db.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url, args.revision)
    print(f"database upgraded to {args.revision}")


def cmd_demo(args: argparse.Namespace) -> None:
    loaded = asyncio.run(_demo(_settings()))
    print("demo data loaded: " + ", ".join(f"{name} {count}" for name, count in loaded.items()))


def cmd_chat(args: argparse.Namespace) -> None:
    from bot.chat import run_chat

    settings = _settings()
    asyncio.run(run_chat(settings, url=args.url, user=args.user, mode=args.mode, script=args.say))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="longtuan", description="龙团: the 龙岗青年 official-account bot")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--demo", action="store_true", help="load the demo data first (idempotent)")
    serve.add_argument("--workers", type=int, default=1, help="processes on the port (SO_REUSEPORT); needs Redis")
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="upgrade the database schema (Alembic)")
    migrate.add_argument("revision", nargs="?", default="head")
    migrate.set_defaults(func=cmd_migrate)

    demo = sub.add_parser("demo", help="load the demo data from content/demo (idempotent)")
    demo.set_defaults(func=cmd_demo)

    chat = sub.add_parser("chat", help="talk to the bot in a terminal, as WeChat would")
    chat.add_argument("--url", help="a running server's /wechat URL; default: an in-process server")
    chat.add_argument("--user", default="terminal-user", help="the openid to speak as")
    chat.add_argument("--mode", choices=["plain", "safe", "compat"], help="default: safe if an AES key is set")
    chat.add_argument("--say", action="append", help="send this line instead of reading the terminal (repeatable)")
    chat.set_defaults(func=cmd_chat)

    from bot.commands import Commands, register_all

    groups = {}
    for name, title in (
        ("import", "import a file (all or nothing)"),
        ("export", "export data"),
        ("report", "print a report"),
    ):
        group = sub.add_parser(name, help=title)
        groups[name] = group.add_subparsers(dest="kind", required=True)
    register_all(Commands(sub, groups["import"], groups["export"], groups["report"]))

    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
