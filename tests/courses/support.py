"""Night-school test helpers: classes at chosen times, people who already have a profile."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text

from bot.db import Database
from bot.db.courses import catalogue, signups
from bot.db.courses.catalogue import ClassRecord
from bot.db.users import ensure_user
from tests.conftest import FixedClock

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: Tuesday 2026-12-01 10:00 in Shenzhen: the ``clock`` fixture's instant.
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)


def fixed_clock() -> FixedClock:
    return FixedClock(NOW)


async def add_class(
    db: Database,
    ref: str,
    starts: datetime,
    *,
    capacity: int = 30,
    theme: str = "手机摄影",
    title: str = "光影入门",
    street: str = "坂田",
    venue: str = "坂田青年之家",
    code: str = "",
    minutes: int = 90,
    status: str = "open",
) -> int:
    record = ClassRecord(
        ref=ref,
        theme=theme,
        title=title,
        teacher="陈老师",
        venue=venue,
        street=street,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=minutes),
        capacity=capacity,
        checkin_code=code or f"YX{abs(hash(ref)) % 9000 + 1000}",
        status=status,
    )
    async with db.session() as s:
        await catalogue.upsert_classes(s, [record])
        found = await catalogue.by_ref(s, ref)
    assert found is not None
    return found.id


async def add_profile(db: Database, openid: str, at: datetime = NOW, street: str = "坂田") -> int:
    async with db.session() as s:
        uid = await ensure_user(s, "wechat", openid, at.timestamp())
        await signups.save_profile(s, uid, signups.Profile("李小龙", "13800138000", street), at)
    return uid


async def signup_rows(db: Database, class_id: int) -> list[tuple[int, str, str]]:
    """(signup id, openid, status) of a class, in arrival order."""
    async with db.session() as s:
        rows = await s.execute(
            text("""
            SELECT s.id, u.external_id, s.status FROM course_signups s JOIN users u ON u.id = s.user_id
            WHERE s.class_id = :c ORDER BY s.id
            """),
            {"c": class_id},
        )
        return [(r.id, r.external_id, r.status) for r in rows]


async def events(db: Database, class_id: int) -> list[tuple[str, str, str]]:
    """(openid, kind, cause) of every recorded change on a class, in order."""
    async with db.session() as s:
        rows = await s.execute(
            text("""
            SELECT u.external_id, e.kind, e.cause FROM course_signup_events e
            JOIN course_signups s ON s.id = e.signup_id JOIN users u ON u.id = s.user_id
            WHERE s.class_id = :c ORDER BY e.id
            """),
            {"c": class_id},
        )
        return [(r.external_id, r.kind, r.cause) for r in rows]
