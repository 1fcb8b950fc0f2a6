"""The programmes' CLI commands: each module registers its own under ``longtuan``.

``longtuan import KIND FILE``, ``longtuan export KIND`` and ``longtuan report KIND`` are shared
groups; a programme adds its KIND to them and may add top-level commands (``classes``,
``study`` ...). A command's work runs inside ``open_services``, as the web app's does.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from bot.context import Services
from bot.errors import ConfigError
from bot.settings import Settings

#: Modules with ``register(commands: Commands) -> None``, in the order their help lists them.
MODULES: tuple[str, ...] = (
    "bot.commands.care",
    "bot.commands.courses",
    "bot.commands.volunteer",
    "bot.commands.internships",
    "bot.commands.study",
    "bot.commands.delivery",
    "bot.commands.keys",
)

SubParsers = Any  # argparse's _SubParsersAction is private; its add_parser is all we use


@dataclass(slots=True)
class Commands:
    root: SubParsers
    imports: SubParsers
    exports: SubParsers
    reports: SubParsers


def register_all(commands: Commands) -> None:
    for name in MODULES:
        importlib.import_module(name).register(commands)


def run_command(main: Callable[[Settings], Coroutine[Any, Any, int | None]]) -> None:
    """Settings (a bad one: one line, exit 2), quiet logs, the database (the embedded one when none is
    configured), then ``main(settings)``; its return value is the exit code."""
    from bot.embedded import with_database
    from bot.logs import configure
    from bot.settings import load_settings

    try:
        settings = load_settings()
        configure("WARNING", False)
        with with_database(settings) as ready:
            code = asyncio.run(main(ready))
    except ConfigError as exc:
        print(f"longtuan: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if code:
        raise SystemExit(code)


def with_services(work: Callable[[Services, argparse.Namespace], Awaitable[int | None]]) -> Callable[..., None]:
    """Turn ``async def work(svc, args)`` into an argparse handler; its return value is the exit code."""

    def run(args: argparse.Namespace) -> None:
        from bot.services import open_services

        async def main(ready: Settings) -> int | None:
            async with open_services(ready) as svc:
                return await work(svc, args)

        run_command(main)

    return run
