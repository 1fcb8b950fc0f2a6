"""Volunteering test data: one team, projects at real Longgang places, shifts around a fixed clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.db import Database
from bot.db.volunteer.tables import Project, Shift, Team

#: 坂田 华为基地 and 布吉 万象汇 (GCJ-02); about 8.3 km apart.
BANTIAN = (22.6555, 114.0605)
BUJI = (22.6062, 114.1206)


@dataclass(slots=True, frozen=True)
class Seeded:
    project: int
    other_project: int
    #: starts in 30 minutes, lasts 3 hours, 5 seats, code 381204
    now_shift: int
    #: tomorrow, code 381205
    tomorrow_shift: int
    #: ended an hour ago, code 381206
    ended_shift: int
    #: 布吉, today, code 381207
    buji_shift: int


async def seed(db: Database, now: float, *, seats: int = 5) -> Seeded:
    at = datetime.fromtimestamp(now, UTC)
    async with db.session() as s:
        team = Team(code="bantian-01", name="坂田街道志愿服务队", street="坂田")
        s.add(team)
        await s.flush()
        p1 = Project(
            code="bt-clean",
            team_id=team.id,
            title="坂田社区环境清洁",
            street="坂田",
            place="坂田街道华为基地南门",
            latitude=BANTIAN[0],
            longitude=BANTIAN[1],
            radius_m=500,
            bring="手套、水杯",
            summary="清理社区公共区域的垃圾。",
        )
        p2 = Project(
            code="bj-library",
            team_id=team.id,
            title="布吉图书角整理",
            street="布吉",
            place="布吉万象汇三楼",
            latitude=BUJI[0],
            longitude=BUJI[1],
            radius_m=300,
            bring="",
            summary="整理图书、引导读者。",
        )
        s.add_all([p1, p2])
        await s.flush()
        shifts = [
            Shift(
                project_id=p1.id,
                code="381204",
                starts_at=at + timedelta(minutes=30),
                ends_at=at + timedelta(hours=3, minutes=30),
                seats=seats,
            ),
            Shift(
                project_id=p1.id,
                code="381205",
                starts_at=at + timedelta(days=1),
                ends_at=at + timedelta(days=1, hours=2),
                seats=seats,
            ),
            Shift(
                project_id=p1.id,
                code="381206",
                starts_at=at - timedelta(hours=3),
                ends_at=at - timedelta(hours=1),
                seats=seats,
            ),
            Shift(
                project_id=p2.id,
                code="381207",
                starts_at=at + timedelta(hours=1),
                ends_at=at + timedelta(hours=4),
                seats=seats,
            ),
        ]
        s.add_all(shifts)
        await s.flush()
        return Seeded(p1.id, p2.id, shifts[0].id, shifts[1].id, shifts[2].id, shifts[3].id)
