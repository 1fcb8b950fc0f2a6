"""The benchmark's database and followers: one INSERT … SELECT of generate_series, seeded for repeatability."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.gateway.errors import BenchError

DB_NAME = "longtuan_bench_campaign"
PG_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DATABASE_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB_NAME}"


@dataclass(frozen=True, slots=True)
class Audience:
    followers: int
    window_share: float
    left_share: float


async def fresh_database() -> None:
    """Create the bench database if missing, empty it, and migrate it to head."""
    engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            if not await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": DB_NAME}):
                await conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    except OSError as exc:
        raise BenchError(f"PostgreSQL at 127.0.0.1:5432 is unreachable ({exc}); run scripts/services.sh") from exc
    finally:
        await engine.dispose()
    bench = create_async_engine(DATABASE_URL)
    async with bench.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await bench.dispose()
    from bot.db.migrate import upgrade_async

    await upgrade_async(DATABASE_URL)


async def seed(audience: Audience, now: float) -> list[tuple[str, float]]:
    """Insert the followers; returns (openid, last_seen) of those inside the window (the fake opens theirs)."""
    engine = create_async_engine(DATABASE_URL)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT setseed(0.42)"))
            await conn.execute(
                text("""
                INSERT INTO users (channel, external_id, subscribed, first_scene, first_seen, last_seen, street)
                SELECT 'wechat', 'o-bench-' || lpad(g::text, 7, '0'), r.left_ >= :left, '',
                       to_timestamp(:now) - interval '400 days',
                       CASE WHEN r.seen < :window THEN to_timestamp(:now) - r.ago * interval '47 hours'
                            ELSE to_timestamp(:now) - (3 + r.ago * 200) * interval '1 day' END,
                       (ARRAY['平湖','布吉','吉华','坂田','南湾','横岗','园山','龙城','龙岗','宝龙','坪地'])[1 + g % 11]
                FROM generate_series(1, :n) AS g,
                     LATERAL (SELECT random() AS seen, random() AS left_, random() AS ago, g AS k) AS r
                """),
                {"n": audience.followers, "now": now, "window": audience.window_share, "left": audience.left_share},
            )
            await conn.execute(text("ANALYZE users"))
            rows = await conn.execute(
                text("SELECT external_id, extract(epoch FROM last_seen) FROM users WHERE last_seen > :cut"),
                {"cut": _ts(now - 48 * 3600)},
            )
            return [(str(o), float(t)) for o, t in rows]
    finally:
        await engine.dispose()


def _ts(epoch: float) -> object:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC)
