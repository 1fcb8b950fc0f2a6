"""Finding 2, second half: one row the database (or the conversion before it) refuses no longer
takes the rest of its batch down; the batch is written again row by row, the bad row set aside."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from bot.db import Database
from bot.db.models import User
from bot.db.users import Touch, Users
from bot.errors import Unavailable
from tests.conftest import PG_URL

T0 = 1_764_000_000.0


@pytest.fixture
async def db(clean_db: None) -> AsyncIterator[Database]:
    database = Database.from_url(PG_URL)
    yield database
    await database.close()


async def rows(db: Database) -> dict[str, User]:
    async with db.session() as s:
        return {u.external_id: u for u in (await s.execute(select(User))).scalars()}


async def test_a_batch_with_bad_rows_keeps_every_good_one(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    users = Users(db)
    for i in range(20):
        users.touch("wechat", f"o-follow-{i}", T0 + i, subscribed=True, scene="poster")
    users.touch("wechat", "o-leave", T0, subscribed=False)
    users.touch("wechat", "o-chat", T0)
    # A time no timestamp holds (fails in Python, before the statement) ...
    users.touch("wechat", "o-bad-time", float(2**63), subscribed=True)
    # ... and an id longer than users.external_id (fails in PostgreSQL, inside it).
    users.touch("wechat", "o" * 80, T0, subscribed=True)

    assert await users.flush() == 22
    stored = await rows(db)
    assert sorted(stored) == sorted([f"o-follow-{i}" for i in range(20)] + ["o-leave", "o-chat"])
    assert all(
        stored[f"o-follow-{i}"].subscribed and stored[f"o-follow-{i}"].first_scene == "poster" for i in range(20)
    )
    assert not stored["o-leave"].subscribed

    # The bad rows are kept, with why, and logged once each; nothing is left to retry them.
    assert sorted(t.openid for t, _ in users.rejected) == sorted(["o-bad-time", "o" * 80])
    assert users.pending == 0
    rejected = [r for r in caplog.records if r.getMessage() == "user write rejected"]
    assert sorted(getattr(r, "openid", "") for r in rejected) == sorted(["o-bad-time", "o" * 80])
    assert await users.flush() == 0


async def test_a_batch_that_is_fine_is_written_in_one_statement(db: Database) -> None:
    calls: list[int] = []

    class Counting(Users):
        async def _upsert(self, items: list[Touch]) -> None:
            calls.append(len(items))
            await super()._upsert(items)

    users = Counting(db)
    for i in range(50):
        users.touch("wechat", f"o-fine-{i}", T0, subscribed=True)
    assert await users.flush() == 50
    assert calls == [50] and not users.rejected


async def test_an_outage_midway_through_the_retry_puts_the_rest_back(db: Database) -> None:
    """Row by row, the database goes away after the first good row: that one stays written, the
    rows after it are put back and go out with the next flush."""

    class Flaky(Users):
        calls = 0

        async def _upsert(self, items: list[Touch]) -> None:
            Flaky.calls += 1
            if Flaky.calls == 4:  # the batch, then rows one and two, then the outage
                raise Unavailable("database: gone")
            await super()._upsert(items)

    users = Flaky(db)
    users.touch("wechat", "o-bad-time", float(2**63), subscribed=True)  # makes the batch fail
    for i in range(4):
        users.touch("wechat", f"o-wait-{i}", T0 + i, subscribed=True)
    with pytest.raises(Unavailable):
        await users.flush()
    # Rows are retried in order: the bad one (rejected), o-wait-0 (written), then the outage.
    assert [t.openid for t, _ in users.rejected] == ["o-bad-time"]
    assert sorted(await rows(db)) == ["o-wait-0"]
    assert users.pending == 3

    assert await users.flush() == 3  # the database is back: the follows that waited go out
    async with db.session() as s:
        assert (await s.execute(select(func.count()).select_from(User))).scalar_one() == 4
