"""Care's demo data: two inbox threads and a few unanswered questions; loading twice changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.content import DEFAULT_DIR
from bot.context import Services
from bot.db.care_tables import CareMessage, CareThread, CareUnanswered
from bot.db.demo import load_demo


async def test_the_demo_loads_once(services: Services) -> None:
    first = await load_demo(services.db, DEFAULT_DIR / "demo")
    second = await load_demo(services.db, DEFAULT_DIR / "demo")
    assert first["care"] == 7 and second["care"] == 0
    async with services.db.session() as s:
        counts = [
            (await s.execute(select(func.count()).select_from(table))).scalar_one()
            for table in (CareThread, CareMessage, CareUnanswered)
        ]
    assert counts == [2, 3, 5]
