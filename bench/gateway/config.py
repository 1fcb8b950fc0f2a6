"""Configuration of a run: service addresses, the bench account and the load generator's settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DB_NAME = "longtuan_bench"
PG_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DATABASE_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = "redis://127.0.0.1:6379/0"
ACCOUNT = "gh_longtuan"


@dataclass(frozen=True, slots=True)
class LoadConfig:
    url: str
    token: str
    app_id: str
    aes_key: str
    connections: int
    users: int
    seconds: float
    warmup: float
    seed: int
    parent_pid: int
    #: "aiohttp" (ClientSession, TCPConnector(limit=connections)) or "raw" (pre-rendered HTTP/1.1
    #: requests on asyncio streams: a fraction of the client CPU, for when the client is the limit).
    client: str = "aiohttp"
    #: The messages sent: "product" (the real mix, programmes included) or "gateway" (no database).
    mix: str = "product"
    #: ``--text``: only these texts, equal weights (overrides ``mix``).
    texts: tuple[str, ...] = ()
    #: Keep every n-th reply of the window for decryption and verification after the window.
    sample_every: int = 16
    max_samples: int = 4000
    #: The CPU the load generator is pinned to (None: wherever the kernel puts it).
    cpu: int | None = None
