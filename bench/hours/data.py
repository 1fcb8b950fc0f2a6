"""The bench database: recreated, migrated, and a half-year ledger bulk-loaded server-side."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.gateway.config import PG_ADMIN_URL
from bench.gateway.errors import BenchError

DB_NAME = "longtuan_bench_hours"
DATABASE_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB_NAME}"
TEAMS = 543
PROJECTS = 23_587
STREETS = ("平湖", "布吉", "吉华", "坂田", "南湾", "横岗", "园山", "龙城", "龙岗", "宝龙", "坪地")


@dataclass(slots=True, frozen=True)
class Loaded:
    volunteers: int
    checkins: int
    ledger: int
    seconds: float
    burst_code: str
    burst_shift: int


def openid(i: int) -> str:
    """Volunteer ``i``'s openid: 28 characters like real ones (the same expression as the SQL below)."""
    return f"o{i:09d}" + "benchvolunteer".ljust(18, "x")


async def recreate() -> None:
    engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    except OSError as exc:
        raise BenchError(f"PostgreSQL at 127.0.0.1:5432 is unreachable ({exc}); run scripts/services.sh") from exc
    finally:
        await engine.dispose()


#: Each statement builds one table from generate_series. Check-in i goes to shift (i % shifts)
#: and user 1 + (shift * 7919 + (i / shifts) * 1009) % volunteers: distinct per shift, so the
#: unique index holds; times are spread over the half year before :now. The burst's shift (code
#: 000001, outside the generated 100000-999999) starts in 20 minutes.
LOAD = (
    """
    INSERT INTO users (channel, external_id, subscribed, first_scene, first_seen, last_seen, street)
    SELECT 'wechat', 'o' || lpad(g::text, 9, '0') || rpad('benchvolunteer', 18, 'x'), TRUE, '',
           CAST(:now AS timestamptz) - interval '200 days', CAST(:now AS timestamptz) - interval '1 day',
           (CAST(:streets AS text[]))[1 + g % 11]
    FROM generate_series(0, :volunteers - 1) AS g
    """,
    """
    INSERT INTO volunteer_teams (id, code, name, street)
    SELECT g, 'team-' || g, (CAST(:streets AS text[]))[1 + g % 11] || '志愿服务队' || g,
           (CAST(:streets AS text[]))[1 + g % 11]
    FROM generate_series(1, :teams) AS g
    """,
    """
    INSERT INTO volunteer_projects (id, code, team_id, title, street, place, latitude, longitude, radius_m,
                                    bring, summary)
    SELECT g, 'project-' || g, 1 + g % :teams, '志愿项目' || g, (CAST(:streets AS text[]))[1 + (1 + g % :teams) % 11],
           '龙岗区某社区' || g, 22.60 + (g * 7 % 1000) / 5000.0, 114.05 + (g * 13 % 1000) / 3500.0, 500, '', ''
    FROM generate_series(1, :projects) AS g
    """,
    """
    INSERT INTO volunteer_shifts (id, project_id, code, starts_at, ends_at, seats, taken)
    SELECT g, 1 + (g - 1) % :projects, (100000 + (g::bigint * 7919) % 900000)::text,
           t, t + (2 + g % 3) * interval '1 hour', 60, 0
    FROM generate_series(1, :shifts) AS g,
         LATERAL (SELECT date_trunc('hour', CAST(:now AS timestamptz) - (1 + g * 3 % 180) * interval '1 day'
                                            + (g % 10) * interval '1 hour') AS t) AS at
    """,
    """
    INSERT INTO volunteer_checkins (id, shift_id, user_id, checked_in_at, checked_out_at, via, verified, walk_in)
    SELECT g, s.id, u.id, s.starts_at - interval '5 minutes',
           s.ends_at + (g % 20) * interval '1 minute', CASE WHEN g % 3 = 0 THEN 'code' ELSE 'qr' END,
           g % 4 <> 0, g % 2 = 0
    FROM generate_series(0, :checkins - 1) AS g
    JOIN volunteer_shifts s ON s.id = 1 + g % :shifts
    JOIN users u ON u.id = 1 + (s.id::bigint * 7919 + (g / :shifts) * 1009) % :volunteers
    """,
    """
    INSERT INTO volunteer_ledger (user_id, kind, hours, checkin_id, project_id, served_on, started_at, ended_at,
                                  reason, author, created_at)
    SELECT c.user_id, 'service', EXTRACT(EPOCH FROM s.ends_at - s.starts_at) / 3600, c.id, s.project_id,
           (s.starts_at AT TIME ZONE 'Asia/Shanghai')::date, s.starts_at, s.ends_at, '', '', c.checked_out_at
    FROM volunteer_checkins c JOIN volunteer_shifts s ON s.id = c.shift_id
    """,
    """
    INSERT INTO volunteer_shifts (id, project_id, code, starts_at, ends_at, seats, taken)
    VALUES (:shifts + 1, 1, '000001', CAST(:now AS timestamptz) + interval '20 minutes',
            CAST(:now AS timestamptz) + interval '4 hours', :burst_seats, :signed)
    """,
    # The event's registered volunteers (the first :signed of the burst); the others walk in.
    """
    INSERT INTO volunteer_signups (shift_id, user_id, created_at)
    SELECT :shifts + 1, u.id, CAST(:now AS timestamptz) - interval '3 days'
    FROM generate_series(0, :signed - 1) AS g
    JOIN users u ON u.channel = 'wechat'
                AND u.external_id = 'o' || lpad(g::text, 9, '0') || rpad('benchvolunteer', 18, 'x')
    """,
)


async def load(volunteers: int, checkins: int, burst: int, walk_ins: int) -> Loaded:
    """Recreate the database and load the ledger; returns what is there and how long it took."""
    from datetime import UTC, datetime

    from bot.db.migrate import upgrade_async

    await recreate()
    await upgrade_async(DATABASE_URL)
    shifts = PROJECTS * 2
    if checkins > shifts * (volunteers // 1009):
        raise BenchError("too many check-ins for the volunteers: raise --volunteers")
    params = {
        "now": datetime.now(UTC),
        "streets": list(STREETS),
        "volunteers": volunteers,
        "teams": TEAMS,
        "projects": PROJECTS,
        "shifts": shifts,
        "checkins": checkins,
        "burst_seats": burst + 100,
        "signed": burst - walk_ins,
    }
    engine = create_async_engine(DATABASE_URL)
    started = time.perf_counter()
    try:
        async with engine.begin() as conn:
            for statement in LOAD:
                names = {k: v for k, v in params.items() if f":{k}" in statement}
                await conn.execute(text(statement), names)
            await conn.execute(text("SELECT setval('volunteer_checkins_id_seq', :n)"), {"n": checkins + 1})
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
        seconds = time.perf_counter() - started
        async with engine.connect() as conn:
            counted = (
                await conn.execute(
                    text(
                        "SELECT (SELECT count(*) FROM volunteer_checkins), (SELECT count(*) FROM volunteer_ledger),"
                        " (SELECT count(DISTINCT user_id) FROM volunteer_checkins)"
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    return Loaded(volunteers, int(counted[0]), int(counted[1]), seconds, "000001", shifts + 1)
