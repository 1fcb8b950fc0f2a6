"""The forgotten check-out job, on a fixed clock, run twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from bot.context import Services
from bot.db.users import ensure_user
from bot.db.volunteer.tables import CheckIn, LedgerEntry
from handlers.volunteer.jobs import close_forgotten, schedule
from tests.conftest import FixedClock
from tests.volunteer.support import seed


async def test_forgotten_check_outs_are_closed_at_the_shift_end_once(services: Services, clock: FixedClock) -> None:
    data = await seed(services.db, clock())
    at = datetime.fromtimestamp(clock(), UTC)
    async with services.db.session() as s:
        ids = [await ensure_user(s, "wechat", f"o_forgot_{i}", clock()) for i in range(3)]
        # Checked in at 10:50, 20 minutes after the start; the shift ends at 13:30.
        for user_id in ids[:2]:
            s.add(
                CheckIn(
                    shift_id=data.now_shift,
                    user_id=user_id,
                    checked_in_at=at + timedelta(minutes=50),
                    via="code",
                    verified=False,
                    walk_in=True,
                )
            )
        # One checked in to the shift that ended an hour ago, at its start.
        s.add(
            CheckIn(
                shift_id=data.ended_shift,
                user_id=ids[2],
                checked_in_at=at - timedelta(hours=3),
                via="qr",
                verified=True,
                walk_in=True,
            )
        )
    assert await close_forgotten(services) == 1  # 10:00: only the ended shift
    assert await close_forgotten(services) == 0
    clock.advance(4 * 3600)  # 14:00
    assert await close_forgotten(services) == 2
    assert await close_forgotten(services) == 0
    async with services.db.session() as s:
        rows = (await s.scalars(select(CheckIn).order_by(CheckIn.id))).all()
        entries = (await s.scalars(select(LedgerEntry).order_by(LedgerEntry.checkin_id))).all()
    assert all(r.auto_closed and r.checked_out_at is not None for r in rows)
    assert rows[0].checked_out_at == at + timedelta(hours=3, minutes=30)  # the shift's end, not 14:00
    # 10:50-13:30 is 2 h 40 min: 2 and a remainder of 15 to 45 minutes, 2.5 hours; the ended shift 2 hours.
    assert [e.hours for e in entries] == [Decimal("2.5"), Decimal("2.5"), Decimal(2)]
    sent = services.notifier.notices  # type: ignore[attr-defined]
    assert [n.key for n in sent] == [
        f"volunteer_auto_checkout:{rows[2].id}",
        f"volunteer_auto_checkout:{rows[0].id}",
        f"volunteer_auto_checkout:{rows[1].id}",
    ]
    assert sent[1].reply.text == services.content.text(
        "volunteer.auto_checkout", title="坂田社区环境清洁", day="12月1日（周二）", end="13:30", hours="2.5"
    )
    assert sent[1].user_id == "o_forgot_0"


def test_the_job_is_scheduled_every_five_minutes() -> None:
    from zoneinfo import ZoneInfo

    added: list[tuple[str, object]] = []
    schedule(lambda job_id, job, trigger: added.append((job_id, trigger)), ZoneInfo("Asia/Shanghai"))
    [(job_id, trigger)] = added
    assert job_id == "volunteer.close_forgotten" and "0:05:00" in str(trigger)
