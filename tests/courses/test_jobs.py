"""The night school's jobs with a fixed clock, each run twice: reminders once each, no-shows once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text

from bot.context import Services
from bot.db.courses import attendance, signups
from bot.notifier import RecordingNotifier
from handlers.courses.jobs import mark_no_shows, remind_day_before, remind_soon, schedule
from tests.conftest import FixedClock
from tests.courses.support import NOW, SHANGHAI, add_class, add_profile, events, signup_rows


def recorded(services: Services) -> RecordingNotifier:
    assert isinstance(services.notifier, RecordingNotifier)
    return services.notifier


async def _booked(services: Services, class_id: int, *openids: str) -> None:
    for openid in openids:
        uid = await add_profile(services.db, openid)
        async with services.db.session() as s:
            await signups.sign_up(s, class_id, uid, NOW)


async def test_evening_reminders_go_to_confirmed_attendees_once(services: Services, clock: FixedClock) -> None:
    tomorrow = await add_class(services.db, "T", datetime(2026, 12, 2, 19, 30, tzinfo=SHANGHAI), capacity=2)
    later = await add_class(services.db, "L", datetime(2026, 12, 3, 19, 30, tzinfo=SHANGHAI), code="YX2000")
    await _booked(services, tomorrow, "o-a", "o-b", "o-waiting")
    await _booked(services, later, "o-c")
    async with services.db.session() as s:
        gone = await signups.live_signup(s, tomorrow, await add_profile(services.db, "o-b"))
        assert gone is not None
        await signups.cancel(s, gone.id, tomorrow, NOW)  # o-waiting is promoted in o-b's place
    clock.set(datetime(2026, 12, 1, 20, 0, tzinfo=SHANGHAI))

    assert await remind_day_before(services) == 2
    assert await remind_day_before(services) == 0, "a second run sends nothing"
    notices = recorded(services).notices
    assert sorted(n.user_id for n in notices) == ["o-a", "o-waiting"]
    first = notices[0]
    assert first.purpose == "class_reminder" and first.reply.key == "courses.reminder_day"
    assert first.fields == {"class": "光影入门", "time": "12月2日（周三）19:30–21:00", "venue": "坂田青年之家"}
    assert first.key.startswith(f"class_reminder:day:{tomorrow}:")
    assert first.reply.text.startswith("上课提醒📚 你报名的「光影入门」明天开课")


async def test_reminders_two_hours_before_once(services: Services, clock: FixedClock) -> None:
    soon = await add_class(services.db, "S", NOW + timedelta(hours=1, minutes=50))
    far = await add_class(services.db, "F", NOW + timedelta(hours=3), code="YX3000")
    await _booked(services, soon, "o-a")
    await _booked(services, far, "o-b")
    assert await remind_soon(services) == 1
    assert await remind_soon(services) == 0
    assert [(n.user_id, n.reply.key) for n in recorded(services).notices] == [("o-a", "courses.reminder_soon")]
    clock.advance(3600)  # now the second class is inside two hours
    assert await remind_soon(services) == 1
    assert [n.user_id for n in recorded(services).notices] == ["o-a", "o-b"]


async def test_no_shows_are_marked_once_and_cancelled_classes_never_count(
    services: Services, clock: FixedClock
) -> None:
    held = await add_class(services.db, "H", NOW + timedelta(hours=3))
    dropped = await add_class(services.db, "D", NOW + timedelta(hours=3), code="YX4000", status="open")
    await _booked(services, held, "o-came", "o-absent")
    await _booked(services, dropped, "o-absent")
    async with services.db.session() as s:
        await s.execute(text("UPDATE course_classes SET status = 'cancelled' WHERE id = :c"), {"c": dropped})
        came = await add_profile(services.db, "o-came")
        await attendance.check_in(s, held, came, NOW + timedelta(hours=3), "code")

    clock.advance(3600)
    assert await mark_no_shows(services) == 0, "nothing has ended yet"
    clock.advance(4 * 3600)
    assert await mark_no_shows(services) == 1
    assert await mark_no_shows(services) == 0, "marked once"
    assert [(r[1], r[2]) for r in await signup_rows(services.db, held)] == [
        ("o-came", "attended"),
        ("o-absent", "no_show"),
    ]
    assert [(r[1], r[2]) for r in await signup_rows(services.db, dropped)] == [("o-absent", "confirmed")]
    assert ("o-absent", "no_show", "job") in await events(services.db, held)


async def test_two_no_shows_within_90_days_block_for_30_days(services: Services) -> None:
    uid = await add_profile(services.db, "o-x")
    at = NOW - timedelta(days=80)
    first = await add_class(services.db, "A", at, code="YX5001")
    second = await add_class(services.db, "B", NOW - timedelta(days=5), code="YX5002")
    cancelled = await add_class(services.db, "C", NOW - timedelta(days=3), code="YX5003", status="cancelled")
    async with services.db.session() as s:
        for cls in (first, cancelled):
            await s.execute(
                text(
                    "INSERT INTO course_signups (class_id, user_id, status, created_at, updated_at)"
                    " VALUES (:c, :u, 'no_show', :at, :at)"
                ),
                {"c": cls, "u": uid, "at": at},
            )
        rule = {"limit": 2, "window_days": 90, "block_days": 30}
        assert await attendance.blocked_until(s, uid, NOW, **rule) is None, "a cancelled class never counts"
        await s.execute(
            text(
                "INSERT INTO course_signups (class_id, user_id, status, created_at, updated_at)"
                " VALUES (:c, :u, 'no_show', :at, :at)"
            ),
            {"c": second, "u": uid, "at": at},
        )
        until = await attendance.blocked_until(s, uid, NOW, **rule)
        assert until == NOW - timedelta(days=5) + timedelta(days=30)
        assert await attendance.blocked_until(s, uid, NOW + timedelta(days=26), **rule) is None
        far_apart = {"limit": 2, "window_days": 60, "block_days": 30}
        assert await attendance.blocked_until(s, uid, NOW, **far_apart) is None


def test_the_jobs_are_scheduled_under_stable_ids() -> None:
    added: list[str] = []
    schedule(lambda job_id, job, trigger: added.append(job_id), SHANGHAI)
    assert added == ["courses.remind_day_before", "courses.remind_soon", "courses.no_shows"]
