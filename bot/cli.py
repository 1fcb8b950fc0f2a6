"""The ``longtuan`` command: serve, migrate, demo, chat."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
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
    from aiohttp import web

    from bot.app import create_app
    from bot.logs import configure

    settings = _settings()
    configure(settings.log_level, settings.log_json)
    if args.demo:
        loaded = asyncio.run(_demo(settings))
        log.info("demo data loaded", extra=loaded)
    _install_uvloop()
    host, port = args.host or settings.host, args.port if args.port is not None else settings.port
    print(f"龙团 listening on http://{host}:{port}/wechat  (health: /healthz, metrics: /metrics)", file=sys.stderr)
    app = create_app(settings)
    app.on_startup.append(_freeze_heap)
    web.run_app(app, host=host, port=port, access_log=None, print=None)


async def _freeze_heap(app: object) -> None:
    """Move what start-up built (jieba's dictionary, content, pools) out of the GC's sight.

    Without this, each full collection walks those millions of objects: 50-130 ms pauses every
    couple of seconds under load (bench.gateway). They live as long as the process anyway.
    """
    gc.collect()
    gc.freeze()


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

    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
