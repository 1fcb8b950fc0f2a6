"""Volunteer profiles: name and ID number, kept for the records-system export."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.volunteer.tables import Volunteer


async def save(s: AsyncSession, user_id: int, name: str, id_number: str, now: float) -> None:
    """Register or re-register (the newest answer wins)."""
    stmt = insert(Volunteer).values(
        user_id=user_id, name=name, id_number=id_number, registered_at=datetime.fromtimestamp(now, UTC)
    )
    await s.execute(
        stmt.on_conflict_do_update(
            index_elements=["user_id"],
            set_={
                "name": stmt.excluded.name,
                "id_number": stmt.excluded.id_number,
                "registered_at": stmt.excluded.registered_at,
            },
        )
    )
