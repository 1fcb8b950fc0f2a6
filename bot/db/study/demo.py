"""Demo data for 青年大学习: 11 streets' branches, members bound to them, the last 8 episodes and
completions near an 80% ratio, all dated from "now" so the demo never goes stale.

Everything is derived from a hash of names, not from a random generator: a second run writes
the same rows and changes nothing; a run a week later adds that week's episode.
"""

from __future__ import annotations

import hashlib
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import Database
from bot.db.study import episodes, org
from bot.db.study.org import BranchRow
from bot.db.study.tables import StudyBranch, StudyCompletion, StudyEpisode

TZ = ZoneInfo("Asia/Shanghai")
#: Episode numbers count weeks from this Monday, so each week's number is the same on every run.
EPOCH = datetime(2019, 1, 7, 10, 0, tzinfo=TZ)
EPISODES = 8


def _unit(*parts: object) -> float:
    """A stable number in [0, 1) for these parts."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def this_monday(now: datetime) -> datetime:
    """The Monday 10:00 the current episode opened (last week's until this Monday's 10:00)."""
    monday = (now - timedelta(days=now.weekday())).replace(hour=10, minute=0, second=0, microsecond=0)
    return monday if monday <= now else monday - timedelta(days=7)


_MEMBERS = text("""
INSERT INTO study_memberships (user_id, branch_id, name, mobile, member_no, joined_at, paused)
SELECT u.id, b.id, m.name, m.mobile, '', :joined, FALSE
FROM unnest(CAST(:openids AS text[]), CAST(:codes AS text[]), CAST(:names AS text[]), CAST(:mobiles AS text[]))
     AS m(openid, code, name, mobile)
JOIN users u ON u.channel = 'wechat' AND u.external_id = m.openid
JOIN study_branches b ON b.code = m.code
ON CONFLICT (user_id) WHERE left_at IS NULL DO NOTHING
""")

_USERS = text("""
INSERT INTO users (channel, external_id, subscribed, first_scene, first_seen, last_seen, subscribed_at, street)
SELECT 'wechat', o, TRUE, '', :now, :now, :now, s
FROM unnest(CAST(:openids AS text[]), CAST(:streets AS text[])) AS u(o, s)
ON CONFLICT (channel, external_id) DO NOTHING
""")


async def load_study(db: Database, folder: Path) -> int:
    """Load the demo organisation, members, episodes and completions; returns the members bound."""
    with (folder / "study.toml").open("rb") as fh:
        data = tomllib.load(fh)
    now = datetime.now(TZ)
    rows: list[BranchRow] = []
    people: list[tuple[str, str, str, str, str]] = []  # openid, code, street, name, mobile
    surnames, given = data["surnames"], data["given"]
    for street in data["street"]:
        for i, name in enumerate(street["branches"], start=1):
            code = f"{street['code']}{i:02}"
            size = 12 + int(_unit("size", code) * 19)  # 12 to 30 members
            rows.append(
                BranchRow(data["district"], street["name"], f"共青团{street['name']}街道工作委员会", code, name, size)
            )
            for n in range(1, size + 1):
                person = (
                    surnames[int(_unit("s", code, n) * len(surnames))]
                    + given[int(_unit("g", code, n) * len(given))]
                    + (given[int(_unit("g2", code, n) * len(given))] if _unit("two", code, n) < 0.6 else "")
                )
                mobile = f"139{int(_unit('m', code, n) * 1e8):08d}"
                people.append((f"demo-study-{code}-{n:02}", code, street["name"], person, mobile))
    first = this_monday(now)
    async with db.session() as s:
        await org.load(s, rows)
        for k in range(EPISODES):
            opens = first - timedelta(days=7 * k)
            number = (opens - EPOCH).days // 7 + 1
            topic = data["topics"][number % len(data["topics"])]
            link = data["link"].format(number=number)
            await episodes.upsert(s, number, topic, link, opens, opens + timedelta(days=6, hours=12))
        at = now.astimezone(UTC)
        await s.execute(_USERS, {"openids": [p[0] for p in people], "streets": [p[2] for p in people], "now": at})
        await s.execute(
            _MEMBERS,
            {
                "openids": [p[0] for p in people],
                "codes": [p[1] for p in people],
                "names": [p[3] for p in people],
                "mobiles": [p[4] for p in people],
                "joined": at - timedelta(days=7 * EPISODES + 7),
            },
        )
        await _completions(s, now)
    return len(people)


async def _completions(s: AsyncSession, now: datetime) -> None:
    branch_ids = dict((await s.execute(select(StudyBranch.code, StudyBranch.id))).all())
    members = (
        await s.execute(
            text(
                "SELECT u.id, u.external_id, m.branch_id FROM study_memberships m JOIN users u ON u.id = m.user_id "
                "WHERE m.left_at IS NULL AND u.external_id LIKE 'demo-study-%'"
            )
        )
    ).all()
    recent = (
        (
            await s.execute(
                select(StudyEpisode)
                .where(StudyEpisode.opens_at <= now)
                .order_by(StudyEpisode.opens_at.desc())
                .limit(EPISODES)
            )
        )
        .scalars()
        .all()
    )
    values = []
    for ep in recent:
        is_open = ep.closes_at > now
        # Each branch has its own habit (68–95%), each week its own mood; the week in progress
        # has only part of its completions yet, and no official list.
        for user_id, openid, branch_id in members:
            code = openid.split("-")[2]
            rate = 0.68 + 0.27 * _unit("branch", code) + 0.08 * (_unit("week", code, ep.number) - 0.5)
            if is_open:
                rate *= min(1.0, 0.25 + (now - ep.opens_at).total_seconds() / (6 * 86400))
            if _unit("done", openid, ep.number) >= rate:
                continue
            studied = ep.opens_at + timedelta(hours=2 + 140 * _unit("when", openid, ep.number))
            studied = min(studied, now)
            confirmed = not is_open and _unit("official", openid, ep.number) < 0.92
            values.append(
                {
                    "episode_id": ep.id,
                    "user_id": user_id,
                    "branch_id": branch_ids.get(code, branch_id),
                    "self_reported_at": studied if _unit("self", openid, ep.number) < 0.5 or not confirmed else None,
                    "confirmed_at": min(ep.closes_at + timedelta(hours=12), now) if confirmed else None,
                    "official_time": f"{studied.astimezone(TZ):%Y-%m-%d %H:%M}" if confirmed else "",
                }
            )
    for start in range(0, len(values), 4000):
        stmt = insert(StudyCompletion).values(values[start : start + 4000])
        await s.execute(stmt.on_conflict_do_nothing(constraint="uq_study_completions_episode_user"))
