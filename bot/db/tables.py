"""Every table of the service, imported in one place: Alembic's metadata and the tests' truncation read it.

Each programme declares its tables on ``bot.db.models.Base`` in a module of its own and adds
one import line here.
"""

from __future__ import annotations

from bot.db import models
from bot.db.delivery import tables as delivery_tables  # noqa: F401  (registers the tables)

metadata = models.Base.metadata

__all__ = ["metadata"]
