"""volunteer_profiles: ID numbers sealed at rest (``bot.sealing``) and a masked copy for display

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

Numbers already kept in the clear are sealed here, with the first key of ``LONGTUAN_DATA_KEY``
(the embedded first run: its own key); without a key, such a database is not upgraded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import context, op

if TYPE_CHECKING:
    from bot.sealing import Sealer

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_NO_KEY = (
    "volunteer_profiles holds {n} ID numbers in the clear: set LONGTUAN_DATA_KEY "
    "(`longtuan keys new` makes one) so that this upgrade can encrypt them"
)


def _sealer(refusal: str) -> Sealer:
    """The sealer of the configured keys; without one, the migration stops with ``refusal``."""
    from bot.errors import ConfigError
    from bot.sealing import sealer_for

    try:
        return sealer_for(context.config.attributes.get("data_key"))
    except ConfigError:
        raise RuntimeError(refusal) from None


def upgrade() -> None:
    from bot.db.volunteer.rules import mask_id

    op.add_column("volunteer_profiles", sa.Column("id_sealed", sa.Text(), nullable=True))
    op.add_column("volunteer_profiles", sa.Column("id_masked", sa.String(18), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT user_id, id_number FROM volunteer_profiles")).all()
    if rows:
        sealer = _sealer(_NO_KEY.format(n=len(rows)))
        bind.execute(
            sa.text("UPDATE volunteer_profiles SET id_sealed = :sealed, id_masked = :masked WHERE user_id = :user"),
            [{"user": user, "sealed": sealer.seal(number), "masked": mask_id(number)} for user, number in rows],
        )
    op.alter_column("volunteer_profiles", "id_sealed", nullable=False)
    op.alter_column("volunteer_profiles", "id_masked", nullable=False)
    op.drop_column("volunteer_profiles", "id_number")


def downgrade() -> None:
    op.add_column("volunteer_profiles", sa.Column("id_number", sa.String(18), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT user_id, id_sealed FROM volunteer_profiles")).all()
    if rows:
        sealer = _sealer("volunteer_profiles holds sealed ID numbers: set LONGTUAN_DATA_KEY to open them")
        bind.execute(
            sa.text("UPDATE volunteer_profiles SET id_number = :number WHERE user_id = :user"),
            [{"user": user, "number": sealer.open(sealed)} for user, sealed in rows],
        )
    op.alter_column("volunteer_profiles", "id_number", nullable=False)
    op.drop_column("volunteer_profiles", "id_masked")
    op.drop_column("volunteer_profiles", "id_sealed")
