"""The night school's demo: 9 themes and the coming weeks' classes from ``content/demo/courses.toml``.

Dates are relative to today (``day`` and ``at``, or ``in_minutes`` from now for a class about to
start, to try check-in), so the demo never goes stale; running it again updates by ``ref``.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.db import Database
from bot.db.courses import catalogue, sessions, signups
from bot.db.courses.catalogue import ClassRecord
from bot.db.users import ensure_user

#: The demo's dates are Shenzhen dates, whatever the machine's time zone.
TZ = ZoneInfo("Asia/Shanghai")


def _starts(item: dict[str, object], now: datetime) -> datetime:
    if "in_minutes" in item:
        soon = now + timedelta(minutes=int(str(item["in_minutes"])))
        return soon.replace(second=0, microsecond=0)
    day = now.date() + timedelta(days=int(str(item["day"])))
    return datetime.combine(day, time.fromisoformat(str(item["at"])), TZ)


async def load_courses(db: Database, folder: Path) -> int:
    with (folder / "courses.toml").open("rb") as fh:
        data = tomllib.load(fh)
    now = datetime.now(TZ)
    records = []
    for item in data.get("class", []):
        starts = _starts(item, now)
        records.append(
            ClassRecord(
                ref=item["ref"],
                theme=item["theme"],
                title=item["title"],
                teacher=item["teacher"],
                venue=item["venue"],
                street=item["street"],
                starts_at=starts,
                ends_at=starts + timedelta(minutes=int(item["minutes"])),
                capacity=int(item["capacity"]),
                checkin_code=item["checkin_code"],
            )
        )
    at = now.astimezone(UTC)
    async with db.session() as s:
        await catalogue.upsert_themes(s, [(t["name"], t["keywords"], t["summary"]) for t in data.get("theme", [])])
        await catalogue.upsert_classes(s, records)
        wanted = []
        for item in data.get("signup", []):
            uid = await ensure_user(s, "wechat", item["openid"], now.timestamp())
            cls = await catalogue.by_ref(s, item["class"])
            if cls is not None and await signups.profile(s, uid) is None:
                await signups.save_profile(s, uid, signups.Profile("演示用户", "13800138000", cls.street), at)
            if cls is not None:
                wanted.append((cls.id, uid))
    async with sessions.autocommit(db) as a:
        for class_id, uid in wanted:  # a second run finds them signed up already: nothing changes
            await signups.sign_up(a, class_id, uid, at, cause="demo")
        await sessions.durable(a)
    return len(records)
