"""Care's demo data (``content/demo/care.toml``): inbox threads and unanswered questions, so
``longtuan inbox list`` and ``longtuan report unanswered`` show something on a fresh machine."""

from __future__ import annotations

import time
import tomllib
from pathlib import Path

from sqlalchemy import func, select

from bot.db import Database
from bot.db.care import add_incoming, record_unanswered
from bot.db.care_tables import CareThread, CareUnanswered
from bot.db.users import ensure_user

#: The hash the demo questions are kept under (no real person hashes to it: real ones are hex).
DEMO_ASKER = "demo"


async def load_care(db: Database, folder: Path) -> int:
    """Idempotent: a demo user who has a thread already gets none, a demo question kept once."""
    path = folder / "care.toml"
    if not path.exists():
        return 0  # no demo file: nothing to load
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    now = time.time()
    loaded = 0
    async with db.session() as s:
        for thread in data.get("thread", []):
            user_id = await ensure_user(s, "wechat", thread["openid"], now)
            has = (await s.execute(select(func.count()).where(CareThread.user_id == user_id))).scalar_one()
            if has:
                continue
            at = now - float(thread.get("hours_ago", 1)) * 3600
            for i, text in enumerate(thread["messages"]):
                await add_incoming(s, user_id, text, at + i * 60, context={"via": "人工"} if i == 0 else None)
            loaded += 1
        kept = set(
            (await s.execute(select(CareUnanswered.text).where(CareUnanswered.user_hash == DEMO_ASKER))).scalars()
        )
        for question in data.get("unanswered", []):
            if question["text"] in kept:
                continue
            await record_unanswered(s, DEMO_ASKER, question["text"], now - float(question.get("days_ago", 1)) * 86400)
            loaded += 1
    return loaded
