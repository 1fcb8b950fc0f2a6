"""The ``longtuan`` command as a developer uses it on a fresh machine: demo, serve, chat, migrate."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select

from bot.db import Database
from bot.db.delivery.outbox import enqueue
from bot.db.models import User
from bot.model import Reply
from bot.outbound import Notice
from tests.conftest import DATA_KEY, PG_URL, REDIS_URL

ROOT = Path(__file__).resolve().parent.parent


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGTUAN_")}
    env.update(PYTHONPATH=str(ROOT), LONGTUAN_LOG_JSON="true", **extra)
    env.setdefault("LONGTUAN_DATABASE_URL", PG_URL)
    env.setdefault("LONGTUAN_DATA_KEY", DATA_KEY)
    return env


async def _run(tmp: Path, *args: str, env: dict[str, str] | None = None, limit: float = 60) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        cwd=tmp,
        env=env or _env(tmp),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), limit)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_chat_in_process_on_the_embedded_default(tmp_path: Path) -> None:
    """No LONGTUAN_DATABASE_URL: an embedded PostgreSQL starts in ./.longtuan, is migrated, has the
    demo loaded, serves the chat and is stopped at the end; the second run reuses its data."""
    env = _env(tmp_path)
    del env["LONGTUAN_DATABASE_URL"], env["LONGTUAN_DATA_KEY"]
    for _ in range(2):
        code, out, err = await _run(
            tmp_path, "chat", "--say", "/follow", "--say", "帮助", "--say", "夜校怎么报名", env=env, limit=120
        )
        assert code == 0, err
        assert "欢迎关注「龙岗青年」" in out and "我是龙团，可以帮你" in out and "青年夜校" in out
    assert (tmp_path / ".longtuan" / "pgdata" / "PG_VERSION").exists(), "the embedded server's data folder"
    assert not (tmp_path / ".longtuan" / "pgdata" / "postmaster.pid").exists(), "the server is stopped on exit"
    key = tmp_path / ".longtuan" / "data.key"  # its own data key, made once, readable by its owner only
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_text().strip()) == 44


async def test_demo_is_idempotent_on_postgres(tmp_path: Path, clean_db: None) -> None:
    env = _env(tmp_path, LONGTUAN_DATABASE_URL=PG_URL)
    for _ in range(2):
        code, out, err = await _run(tmp_path, "demo", env=env)
        assert code == 0, err
        assert "users 8" in out
    db = Database.from_url(PG_URL)
    async with db.session() as s:
        # The programmes' demo members (demo-study-…) come on top of the eight demo users.
        count = (
            await s.execute(select(func.count()).select_from(User).where(User.external_id.like("demo-openid-%")))
        ).scalar_one()
        streets = (await s.execute(select(User.street).where(User.external_id == "demo-openid-001"))).scalar_one()
    await db.close()
    assert count == 8 and streets


@asynccontextmanager
async def _serving(tmp: Path, env: dict[str, str], *args: str) -> AsyncIterator[tuple[int, int, dict[str, Any]]]:
    """``longtuan serve *args`` on a free port until healthy: yields (pid, port, /healthz body);
    stops it on exit and checks it shut down cleanly."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "serve", *args, "--port", str(port), cwd=tmp, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        health: dict[str, Any] = {}
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        health = await resp.json()
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
        yield server.pid, port, health
    finally:
        server.terminate()
        assert await asyncio.wait_for(server.wait(), 20) == 0


async def test_serve_with_demo_then_chat_over_http(tmp_path: Path) -> None:
    async with _serving(tmp_path, _env(tmp_path), "--demo") as (_, port, health):
        assert health == {"status": "ok", "database": "ok", "store": "ok"}
        code, out, err = await _run(
            tmp_path, "chat", "--url", f"http://127.0.0.1:{port}/wechat", "--say", "志愿时长怎么查"
        )
    assert code == 0, err
    assert "时长" in out and "HTTP" not in out


async def test_bad_configuration_exits_with_a_clear_message(tmp_path: Path) -> None:
    code, _, err = await _run(tmp_path, "demo", env=_env(tmp_path, LONGTUAN_WECHAT_AES_KEY="short"))
    assert code == 2
    assert "LONGTUAN_WECHAT_AES_KEY" in err and "Traceback" not in err


async def test_migrate(tmp_path: Path) -> None:
    code, out, err = await _run(tmp_path, "migrate")
    assert code == 0, err
    assert "upgraded to head" in out


async def test_workers_need_shared_state(tmp_path: Path) -> None:
    code, _, err = await _run(tmp_path, "serve", "--workers", "2")
    assert code == 2
    assert "--workers needs LONGTUAN_REDIS_URL" in err


async def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = await _run(tmp_path, "serve", "--port", str(port))
    assert code == 2
    assert err.strip() == f"longtuan: port {port} on 127.0.0.1 is already in use; choose another with --port"


async def test_two_workers_share_one_port(tmp_path: Path, clean_db: None, redis_prefix: str) -> None:
    env = _env(tmp_path, LONGTUAN_DATABASE_URL=PG_URL, LONGTUAN_REDIS_URL=REDIS_URL, LONGTUAN_REDIS_PREFIX=redis_prefix)
    db = Database.from_url(PG_URL)
    try:  # a notice due tomorrow: in the outbox's depth, and nobody sends it during the test
        async with db.session() as s:
            await enqueue(
                s, Notice("wechat", "o-later", "class_reminder", Reply(text="明天"), "t:1"), time.time(), delay=86400
            )
    finally:
        await db.close()
    async with _serving(tmp_path, env, "--workers", "2") as (pid, port, health):
        assert health["status"] == "ok"
        children_file = Path(f"/proc/{pid}/task/{pid}/children")
        # gunicorn's arbiter forks its workers one after the other, a fraction of a second apart.
        for _ in range(50):
            children = (await asyncio.to_thread(children_file.read_text)).split()
            if len(children) >= 2:
                break
            await asyncio.sleep(0.1)
        assert len(children) >= 2, "one process per worker"
        code, out, err = await _run(
            tmp_path, "chat", "--url", f"http://127.0.0.1:{port}/wechat", "--say", "帮助", "--say", "夜校怎么报名",
            env=env,
        )  # fmt: skip
        # Whichever worker a scrape lands on, it reports both workers' requests.
        async with aiohttp.ClientSession() as http:
            for _ in range(6):
                async with http.get(f"http://127.0.0.1:{port}/metrics", headers={"Connection": "close"}) as resp:
                    text = await resp.text()
                served = sum(
                    float(line.rsplit(" ", 1)[1])
                    for line in text.splitlines()
                    if line.startswith('longtuan_requests_total{channel="wechat"')
                )
                assert served == 2, text
                # The outbox's gauges, read from the database by the worker the scrape lands on.
                lines = text.splitlines()
                assert 'longtuan_outbox_depth{status="pending"} 1.0' in lines, text
                assert 'longtuan_delivery_quota_left{way="template"} 100000.0' in lines, text
                assert "longtuan_outbox_oldest_due_seconds 0.0" in lines, text
    assert code == 0, err
    assert "我是龙团，可以帮你" in out


async def test_workers_stopped_while_starting_exit_cleanly(tmp_path: Path, redis_prefix: str) -> None:
    """A stop that lands while the workers are still importing and connecting (a deploy rolled
    back at once) ends them quietly: exit 0, no traceback."""
    env = _env(tmp_path, LONGTUAN_DATABASE_URL=PG_URL, LONGTUAN_REDIS_URL=REDIS_URL, LONGTUAN_REDIS_PREFIX=redis_prefix)
    for wait in (0.3, 1.0):
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "serve", "--workers", "2", "--port", "0", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        await asyncio.sleep(wait)
        server.terminate()
        _, err = await asyncio.wait_for(server.communicate(), 20)
        # Ended by the signal itself if it came before the parent set up its handler, else 0.
        assert server.returncode in (0, -signal.SIGTERM) and b"Traceback" not in err, (wait, err.decode())
