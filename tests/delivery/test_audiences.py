"""The programmes' campaign audiences: a class's attendees, a project's volunteers, internship subscribers, a branch."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.content import DEFAULT_DIR
from bot.db import Database
from bot.db.courses import sessions, signups
from bot.db.demo import load_demo
from bot.db.volunteer import projects
from bot.errors import ConfigError
from bot.outbox import audiences
from tests.conftest import FixedClock
from tests.delivery.conftest import add_user


async def _who(db: Database, spec: str) -> set[int]:
    sql, binds = audiences.resolve(audiences.parse(spec), 0)
    async with db.session() as s:
        return {int(r[0]) for r in await s.execute(text(sql), binds)}


async def _one(db: Database, sql: str) -> int:
    async with db.session() as s:
        return int((await s.execute(text(sql))).scalar_one())


async def test_each_programme_names_its_own_people(db: Database, clock: FixedClock) -> None:
    await load_demo(db, Path(DEFAULT_DIR) / "demo")
    now = datetime.fromtimestamp(clock(), UTC)
    a, b, c, d = [await add_user(db, f"o-aud-{n}", clock()) for n in range(4)]

    # 夜校: seated people of one class; the one who cancelled is not, the one waiting only when asked.
    cls = await _one(db, "SELECT id FROM course_classes WHERE starts_at > now() AND capacity >= 2 ORDER BY id LIMIT 1")
    async with db.session() as s:
        await s.execute(text("UPDATE course_classes SET capacity = 2 WHERE id = :c"), {"c": cls})
        await s.execute(text("DELETE FROM course_signup_events"))
        await s.execute(text("DELETE FROM course_signups WHERE class_id = :c"), {"c": cls})
    async with sessions.autocommit(db) as s:
        for uid in (a, b, c):
            await signups.sign_up(s, cls, uid, now)
    async with db.session() as s:
        first = await signups.live_signup(s, cls, a)
        assert first is not None
        await signups.cancel(s, first.id, cls, now)  # b's and c's: c is promoted from the waitlist
        await signups.sign_up(s, cls, d, now)  # d waits
    assert await _who(db, f"class:{cls}") == {b, c}
    assert await _who(db, f"courses.class:class={cls},waitlist=yes") == {b, c, d}

    # 志愿服务: whoever signed up for any shift of the project and did not cancel.
    project, shift1, shift2 = (
        await db.fetch(
            "SELECT p.id, min(h.id), max(h.id) FROM volunteer_projects p JOIN volunteer_shifts h ON h.project_id = p.id"
            " WHERE h.starts_at > now() GROUP BY p.id HAVING count(*) >= 2 ORDER BY p.id LIMIT 1"
        )
    )[0]
    async with db.session() as s:
        assert await projects.sign_up(s, a, shift1, now) == "ok"
        assert await projects.sign_up(s, b, shift2, now) == "ok"
        assert await projects.sign_up(s, c, shift2, now) == "ok"
        mine = await s.scalar(
            text("SELECT id FROM volunteer_signups WHERE user_id = :u AND shift_id = :h"), {"u": c, "h": shift2}
        )
        assert await projects.cancel(s, c, int(mine or 0), now) == "ok"
    assert await _who(db, f"project:{project}") == {a, b}

    # 展翅计划: all subscribers, or those whose subscription names a word.
    async with db.session() as s:
        for uid, label in ((a, "坂田 · 设计"), (b, "运营"), (c, "设计")):
            await s.execute(
                text("INSERT INTO internship_subscriptions (user_id, label, created_at) VALUES (:u, :l, :t)"),
                {"u": uid, "l": label, "t": now},
            )
    assert {a, b, c} <= await _who(db, "subscribers")
    assert await _who(db, "subscribers:设计") == {a, c}

    # 青年大学习: the branch's members who have not left it.
    branch_id, code = (await db.fetch("SELECT id, code FROM study_branches ORDER BY id LIMIT 1"))[0]
    async with db.session() as s:
        await s.execute(text("DELETE FROM study_memberships WHERE branch_id = :b"), {"b": branch_id})
        for uid, left in ((a, None), (b, now)):
            await s.execute(
                text("INSERT INTO study_memberships (user_id, branch_id, joined_at, left_at) VALUES (:u, :b, :t, :l)"),
                {"u": uid, "b": branch_id, "t": now, "l": left},
            )
    assert await _who(db, f"branch:{code.lower()}") == {a}


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("class:abc", "比如 class:12"),
        ("class:", "比如 class:12"),
        ("project:0", "比如 project:7"),
        ("branch:", "比如 branch:"),
        ("nothing:1", "不认识的受众「nothing」"),
    ],
)
def test_a_bad_audience_says_how_to_write_it(spec: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        audiences.resolve(audiences.parse(spec), 0)
