"""The bench database: created and migrated, the night school emptied, one class and its crowd seeded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bench.gateway.services import prepare_database

DB_NAME = "longtuan_bench_signups"
DATABASE_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB_NAME}"
CLASS_REF = "BENCH-HOT"


def prepare() -> None:
    """``createdb longtuan_bench_signups`` if missing, then the Alembic upgrade."""
    prepare_database(DB_NAME)


async def seed(openids: list[str], seats: int) -> int:
    """Empty the tables, then one class with ``seats`` seats and every person with a profile; the class id."""
    from sqlalchemy import text

    from bot.db import Database
    from bot.db.courses import catalogue
    from bot.db.courses.catalogue import ClassRecord

    db = Database.from_url(DATABASE_URL)
    now = datetime.now(UTC)
    starts = (now + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    try:
        async with db.session() as s:
            await s.execute(
                text(
                    "TRUNCATE course_reminders, course_signup_events, course_signups, course_profiles, "
                    "course_classes, course_themes, users RESTART IDENTITY CASCADE"
                )
            )
            record = ClassRecord(
                ref=CLASS_REF,
                theme="手机摄影",
                title="光影入门",
                teacher="陈老师",
                venue="坂田青年之家",
                street="坂田",
                starts_at=starts,
                ends_at=starts + timedelta(minutes=90),
                capacity=seats,
                checkin_code="YX9999",
            )
            await catalogue.upsert_classes(s, [record])
            await s.execute(
                text("""
                WITH u AS (
                  INSERT INTO users (channel, external_id, subscribed, first_scene, first_seen, last_seen, street)
                  SELECT 'wechat', o, TRUE, '', :now, :now, '坂田' FROM unnest(CAST(:openids AS text[])) AS o
                  RETURNING id)
                INSERT INTO course_profiles (user_id, name, mobile, street, updated_at)
                SELECT id, '测试用户', '13800138000', '坂田', :now FROM u
                """),
                {"openids": openids, "now": now},
            )
            found = await catalogue.by_ref(s, CLASS_REF)
    finally:
        await db.close()
    assert found is not None
    return found.id


async def signups(class_id: int) -> list[tuple[int, str, str]]:
    """(signup id, openid, status) of the class, in arrival order."""
    from sqlalchemy import text

    from bot.db import Database

    db = Database.from_url(DATABASE_URL)
    try:
        async with db.session() as s:
            rows = await s.execute(
                text("""
                SELECT s.id, u.external_id, s.status FROM course_signups s JOIN users u ON u.id = s.user_id
                WHERE s.class_id = :c ORDER BY s.id
                """),
                {"c": class_id},
            )
            return [(r.id, r.external_id, r.status) for r in rows]
    finally:
        await db.close()
