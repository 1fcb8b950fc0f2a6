"""Running Alembic migrations from code (``longtuan migrate``, tests, the embedded first run)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from pydantic import SecretStr

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str, data_key: SecretStr | str | None = None) -> Config:
    """``data_key``: the sealing keys, for a migration that seals what was kept in the clear."""
    cfg = Config()
    cfg.attributes["data_key"] = data_key
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head", *, data_key: SecretStr | str | None = None) -> None:
    """Upgrade the database at ``url``; blocking (env.py runs its own event loop)."""
    command.upgrade(alembic_config(url, data_key), revision)


async def upgrade_async(url: str, revision: str = "head", *, data_key: SecretStr | str | None = None) -> None:
    await asyncio.to_thread(upgrade, url, revision, data_key=data_key)
