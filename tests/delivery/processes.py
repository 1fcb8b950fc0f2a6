"""Worker and scheduler processes for tests: the same commands as in production, with the test's settings."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from pydantic import SecretStr

from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent.parent


def environment(settings: Settings) -> dict[str, str]:
    """The settings as ``LONGTUAN_*`` variables, as a deployment would set them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGTUAN_")}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[f"LONGTUAN_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    env["PYTHONPATH"] = str(ROOT)
    return env


async def start(settings: Settings, *args: str) -> asyncio.subprocess.Process:
    """``python -m ARGS...`` (e.g. ``bot.cli worker``) with the settings in its environment."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        *args,
        cwd=ROOT,
        env=environment(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def run(settings: Settings, *args: str, limit: float = 60) -> tuple[int, str, str]:
    proc = await start(settings, *args)
    out, err = await asyncio.wait_for(proc.communicate(), limit)
    return proc.returncode or 0, out.decode(), err.decode()


async def stop(proc: asyncio.subprocess.Process, limit: float = 15) -> int:
    if proc.returncode is None:
        proc.terminate()
    await asyncio.wait_for(proc.wait(), limit)
    return proc.returncode or 0
