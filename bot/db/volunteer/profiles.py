"""Volunteer profiles: name and ID number, kept for the records-system export (the number sealed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.volunteer.rules import mask_id
from bot.db.volunteer.tables import Volunteer
from bot.sealing import Sealer


async def save(s: AsyncSession, sealer: Sealer, user_id: int, name: str, id_number: str, now: float) -> None:
    """Register or re-register (the newest answer wins); the number is stored sealed, and masked."""
    stmt = insert(Volunteer).values(
        user_id=user_id,
        name=name,
        id_sealed=sealer.seal(id_number),
        id_masked=mask_id(id_number),
        registered_at=datetime.fromtimestamp(now, UTC),
    )
    await s.execute(
        stmt.on_conflict_do_update(
            index_elements=["user_id"],
            set_={
                "name": stmt.excluded.name,
                "id_sealed": stmt.excluded.id_sealed,
                "id_masked": stmt.excluded.id_masked,
                "registered_at": stmt.excluded.registered_at,
            },
        )
    )


async def sealed(s: AsyncSession, batch: int = 1000) -> AsyncIterator[tuple[int, str]]:
    """(user id, sealed number) of every profile, streamed."""
    result = await s.stream(
        select(Volunteer.user_id, Volunteer.id_sealed).order_by(Volunteer.user_id).execution_options(yield_per=batch)
    )
    async for user_id, value in result:
        yield int(user_id), str(value)


async def reseal(s: AsyncSession, user_id: int, before: str, after: str) -> bool:
    """Replace a sealed number by its resealed form, unless it changed meanwhile (a re-registration)."""
    done = await s.execute(
        update(Volunteer).where(Volunteer.user_id == user_id, Volunteer.id_sealed == before).values(id_sealed=after)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]
