"""PostgreSQL and Redis for the benchmark: the bench database prepared, a run's Redis keys deleted."""

from __future__ import annotations

import asyncio

from bench.gateway.config import DATABASE_URL, DB_NAME, PG_ADMIN_URL, REDIS_URL
from bench.gateway.errors import BenchError


def prepare_database(name: str = DB_NAME) -> str:
    """``createdb longtuan_bench`` (or ``name``) if missing, then the Alembic upgrade; returns its URL."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def create() -> None:
        engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                exists = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
                if not exists:
                    await conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            await engine.dispose()

    try:
        asyncio.run(create())
    except OSError as exc:
        raise BenchError(f"PostgreSQL at 127.0.0.1:5432 is unreachable ({exc}); run scripts/services.sh") from exc
    from bot.db.migrate import upgrade

    url = DATABASE_URL if name == DB_NAME else DATABASE_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    return url


def load_demo(url: str) -> str:
    """``longtuan demo`` into the bench database: the programmes the product mix reaches have
    something to show (posts, this week's episode), as on a running account. Idempotent."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGTUAN_")}
    env["LONGTUAN_DATABASE_URL"] = url
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"longtuan demo failed: {(done.stderr or done.stdout).strip()[-400:]}")
    return done.stdout.strip()


def check_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise BenchError(f"Redis at {REDIS_URL} is unreachable ({exc}); run scripts/services.sh") from exc
    finally:
        client.close()


def delete_redis_keys(prefix: str) -> int:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    deleted = 0
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}*", count=2000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += int(client.unlink(*batch))
                batch = []
        if batch:
            deleted += int(client.unlink(*batch))
    finally:
        client.close()
    return deleted
