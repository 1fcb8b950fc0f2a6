"""Every table of the service, imported in one place: Alembic's metadata and the tests' truncation read it.

Each programme declares its tables on ``bot.db.models.Base`` in a module of its own and adds
one import line here.
"""

from __future__ import annotations

from bot.db import care_tables, models  # noqa: F401 - each import registers its tables
from bot.db.courses import tables as courses_tables  # noqa: F401
from bot.db.delivery import tables as delivery_tables  # noqa: F401
from bot.db.internships import tables as internships_tables  # noqa: F401
from bot.db.study import tables as study_tables  # noqa: F401
from bot.db.volunteer import tables as volunteer_tables  # noqa: F401

metadata = models.Base.metadata

__all__ = ["metadata"]
