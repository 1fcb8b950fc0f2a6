"""A small known organisation for the study tests: three branches, two episodes, around a fixed clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update

from bot.db import Database
from bot.db.study import completions, episodes, members, org
from bot.db.study.org import BranchRow
from bot.db.study.tables import StudyCompletion
from bot.db.users import ensure_user
from tests.harness import Gateway

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: The current episode opened Monday 2026-11-30 10:00 and closes Sunday 2026-12-06 22:00 (the
#: ``clock`` fixture says Tuesday 2026-12-01 10:00).
OPENS = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)
CURRENT = 100

BRANCHES = [
    BranchRow("龙岗区", "坂田", "共青团坂田街道工作委员会", "BT01", "坂田街道第一团支部", 4),
    BranchRow("龙岗区", "坂田", "共青团坂田街道工作委员会", "BT02", "坂田街道第二团支部", 2),
    BranchRow("龙岗区", "布吉", "共青团布吉街道工作委员会", "BJ01", "布吉街道第一团支部", 5),
]


async def seed(db: Database) -> None:
    """Branches, the current episode and the one before it."""
    async with db.session() as s:
        await org.load(s, BRANCHES)
        for number, opens in ((CURRENT - 1, OPENS - timedelta(days=7)), (CURRENT, OPENS)):
            await episodes.upsert(
                s,
                number,
                f"第{number}期主题",
                f"https://example.org/study/{number}",
                opens,
                opens + timedelta(days=6, hours=12),
            )


async def user_id(db: Database, openid: str, now: float) -> int:
    async with db.session() as s:
        return await ensure_user(s, "wechat", openid, now)


def this_week(gw: Gateway, status_key: str, number: int = CURRENT, **status: str) -> str:
    """What 「这周学了吗」 reads for the current episode with the status line ``status_key``."""
    return gw.expected(
        "study.this_week",
        number=number,
        title=f"第{number}期主题",
        link=f"https://example.org/study/{number}",
        deadline=gw.expected("study.deadline_open", closes="12月6日（周日）22:00"),
        status=gw.expected(status_key, **status),
    )


async def bind(gw: Gateway, openid: str, code: str = "BT01", name: str = "张三") -> None:
    await gw.say(openid, code)
    await gw.say(openid, name)


async def member(db: Database, openid: str, code: str, name: str = "", mobile: str = "", now: float = 0.0) -> int:
    """Bind ``openid`` to the branch ``code`` straight in the database; returns its users.id."""
    async with db.session() as s:
        uid = await ensure_user(s, "wechat", openid, now or OPENS.timestamp())
        branch = await members.find_branch(s, code)
        assert branch is not None
        await members.bind(s, uid, branch, now or OPENS.timestamp())
        if name or mobile:
            await members.set_identity(s, uid, name, mobile)
    return uid


async def complete(db: Database, uid: int, number: int, *, confirmed: bool) -> None:
    async with db.session() as s:
        ep = await episodes.by_number(s, number)
        m = await members.current(s, uid)
        assert ep is not None and m is not None
        await completions.self_report(s, ep.id, uid, m.branch.id, ep.opens_at)
        if confirmed:
            await s.execute(
                update(StudyCompletion)
                .where(StudyCompletion.episode_id == ep.id, StudyCompletion.user_id == uid)
                .values(confirmed_at=ep.opens_at)
            )
