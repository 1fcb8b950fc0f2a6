"""The ``longtuan`` command: serve, migrate, demo, chat."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from bot.errors import ConfigError
from bot.sealing import MISSING
from bot.settings import Settings, load_settings

log = logging.getLogger("longtuan.cli")


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        print(f"longtuan: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


@contextlib.contextmanager
def _database(settings: Settings) -> Iterator[Settings]:
    """The settings with a database: as configured, or the embedded server started (and migrated) here."""
    if not settings.embedded:
        yield settings
        return
    from bot.embedded import with_database

    try:
        with with_database(settings) as ready:
            yield ready
    except ConfigError as exc:
        print(f"longtuan: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


async def _demo(settings: Settings) -> dict[str, int]:
    from bot.content import DEFAULT_DIR
    from bot.db import Database
    from bot.db.demo import load_demo

    db = Database.from_url(settings.database_url, settings.db_pool)
    try:
        return await load_demo(db, Path(settings.content_dir or DEFAULT_DIR) / "demo")
    finally:
        await db.close()


def _need_data_key(settings: Settings) -> None:
    """A process that takes messages seals ID numbers: without a key (and not the embedded first
    run, which keeps its own), one line saying what to set, before anything starts."""
    if settings.data_key is None and not settings.embedded:
        print(f"longtuan: {MISSING}", file=sys.stderr)
        raise SystemExit(2)


def cmd_serve(args: argparse.Namespace) -> None:
    from bot.logs import configure
    from bot.serve import port_taken, prepare_workers

    if args.workers > 1:
        prepare_workers()  # before anything imports prometheus_client
    from bot.serve import serve_many, serve_one

    settings = _settings()
    configure(settings.log_level, settings.log_json)
    host, port = args.host or settings.host, args.port if args.port is not None else settings.port
    workers = args.workers
    if workers > 1 and (not settings.redis_url or settings.embedded):
        # De-duplication, locks and sessions must be shared between the workers.
        print("longtuan: --workers needs LONGTUAN_REDIS_URL and LONGTUAN_DATABASE_URL", file=sys.stderr)
        raise SystemExit(2)
    if port_taken(host, port):
        print(f"longtuan: port {port} on {host} is already in use; choose another with --port", file=sys.stderr)
        raise SystemExit(2)
    _need_data_key(settings)
    with _database(settings) as settings:
        if args.demo:
            loaded = asyncio.run(_demo(settings))
            log.info("demo data loaded", extra=loaded)
        print(f"龙团 listening on http://{host}:{port}/wechat  (health: /healthz, metrics: /metrics)", file=sys.stderr)
        if workers <= 1:
            serve_one(settings, host, port)
        else:
            serve_many(settings, host, port, workers)


def cmd_migrate(args: argparse.Namespace) -> None:
    from bot.db.migrate import upgrade

    with _database(_settings()) as settings:
        upgrade(settings.database_url, args.revision, data_key=settings.data_key)
    print(f"database upgraded to {args.revision}")


def cmd_demo(args: argparse.Namespace) -> None:
    with _database(_settings()) as settings:
        loaded = asyncio.run(_demo(settings))
    print("demo data loaded: " + ", ".join(f"{name} {count}" for name, count in loaded.items()))


def cmd_chat(args: argparse.Namespace) -> None:
    from bot.chat import run_chat

    settings = _settings()
    if args.url:
        asyncio.run(run_chat(settings, url=args.url, user=args.user, mode=args.mode, script=args.say))
        return
    _need_data_key(settings)  # the chat serves in this process
    with _database(settings) as settings:
        asyncio.run(_demo(settings))
        asyncio.run(run_chat(settings, url=None, user=args.user, mode=args.mode, script=args.say))


def cmd_scheduler(args: argparse.Namespace) -> None:
    from scheduler.__main__ import main as run_scheduler

    with _database(_settings()) as settings:
        run_scheduler(settings)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="longtuan", description="龙团：「龙岗青年」公众号的服务（每个命令加 -h 看用法）"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="运行服务（HTTP）")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--demo", action="store_true", help="先载入演示数据（可重复执行）")
    serve.add_argument(
        "--workers", type=int, default=1, help="同一端口上的进程数（gunicorn 预派生）；需要 Redis 和 PostgreSQL"
    )
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="升级数据库结构（Alembic）")
    migrate.add_argument("revision", nargs="?", default="head")
    migrate.set_defaults(func=cmd_migrate)

    demo = sub.add_parser("demo", help="载入 content/demo 的演示数据（可重复执行）")
    demo.set_defaults(func=cmd_demo)

    chat = sub.add_parser("chat", help="在终端里和机器人对话，像微信那样")
    chat.add_argument("--url", help="运行中的服务的 /wechat 地址；默认在本进程里起一个")
    chat.add_argument("--user", default="terminal-user", help="以哪个 openid 说话")
    chat.add_argument("--mode", choices=["plain", "safe", "compat"], help="默认：配置了 AES 密钥时用安全模式")
    chat.add_argument("--say", action="append", help="发送这一句，不读终端（可重复）")
    chat.set_defaults(func=cmd_chat)

    scheduler = sub.add_parser(
        "scheduler", help="运行定时任务（只运行一个）：提醒、到点的群发、统计（同 python -m scheduler）"
    )
    scheduler.set_defaults(func=cmd_scheduler)

    from bot.commands import Commands, register_all

    groups = {}
    for name, title in (
        ("import", "导入文件（要么全部导入，要么一条不导）"),
        ("export", "导出数据"),
        ("report", "打印报表"),
    ):
        group = sub.add_parser(name, help=title)
        groups[name] = group.add_subparsers(dest="kind", required=True)
    register_all(Commands(sub, groups["import"], groups["export"], groups["report"]))

    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
