"""The volunteering demo: teams in the 11 streets, projects at real places, shifts in the coming weeks."""

from __future__ import annotations

import tomllib
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.db import Database
from bot.db.volunteer import catalog


async def load(db: Database, folder: Path, *, tz: ZoneInfo | None = None, now: datetime | None = None) -> int:
    """Load ``volunteer.toml``; shifts are placed relative to today, so a second run the same day
    changes nothing (and one on a later day adds that day's coming shifts). A shift with
    ``in_minutes`` and a ``code`` runs from that many minutes after the load, under that code, to
    try check-in now. PostgreSQL only."""
    path = folder / "volunteer.toml"
    if not path.exists():
        return 0
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    tz = tz or ZoneInfo("Asia/Shanghai")
    moment = (now or datetime.now(tz)).astimezone(tz).replace(second=0, microsecond=0)
    today = moment.date()
    teams = [catalog.TeamRow(t["code"], t["name"], t["street"]) for t in data.get("team", [])]
    projects, shifts, coded = [], [], []
    for p in data.get("project", []):
        projects.append(
            catalog.ProjectRow(
                p["code"],
                p["team"],
                p["title"],
                p["street"],
                p["place"],
                float(p["latitude"]),
                float(p["longitude"]),
                int(p.get("radius", 500)),
                p.get("bring", ""),
                p.get("summary", ""),
            )
        )
        for sh in p.get("shift", []):
            if "in_minutes" in sh:  # the try-it-now shift: its code is fixed, its time follows the load
                starts = moment + timedelta(minutes=int(sh["in_minutes"]))
                ends = starts + timedelta(hours=float(sh["hours"]))
                coded.append((p["code"], str(sh["code"]), starts, ends, int(sh["seats"])))
                continue
            starts = datetime.combine(today + timedelta(days=int(sh["day"])), time.fromisoformat(sh["start"]), tz)
            ends = starts + timedelta(hours=float(sh["hours"]))
            shifts.append(catalog.ShiftRow(p["code"], starts, ends, int(sh["seats"])))
    async with db.session() as s:
        counts = await catalog.upsert(s, teams, projects, shifts)
        for project, code, starts, ends, seats in coded:
            await catalog.put_coded_shift(s, project, code, starts, ends, seats)
    return counts["projects"]
