"""Campaign queries: create, audit, approvals, the bulk plan (one INSERT … SELECT), start, cancel, progress.

The plan classifies the whole audience in SQL by the planner's rules (``bot.outbox.planner``):
unsubscribed → dropped; inside the customer-service window with allowance left → custom; a
text campaign's others → mass send while the follower's 4 a month last (in batches of up to
10,000 openids with a ``clientmsgid`` each), else they wait for their next interaction; a
template campaign's → template, spread over as many days as the daily quota needs. Rows are
``held`` until the campaign starts; nothing moves before approval.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.delivery.outbox import ts


@dataclass(slots=True)
class CampaignRow:
    id: int
    name: str
    content: dict[str, Any]
    audience: dict[str, Any]
    state: str
    scheduled_at: datetime | None
    created_by: str
    plan: dict[str, Any] | None
    audience_size: int


@dataclass(slots=True, frozen=True)
class PlanInputs:
    now: float
    start: float
    #: The first local midnight after ``start`` (template days begin there).
    midnight: float
    cs_window: float
    cs_allowance: int
    month_start: float
    mass_monthly: int
    mass_batch: int
    template_daily: int
    template_left_today: int
    version: int


async def create(
    session: AsyncSession,
    *,
    name: str,
    content: dict[str, Any],
    audience: dict[str, Any],
    scheduled_at: float | None,
    by: str,
    now: float,
) -> int:
    row = await session.execute(
        text("""
        INSERT INTO campaigns (name, content, audience, state, scheduled_at, created_by, created_at)
        VALUES (:name, CAST(:content AS jsonb), CAST(:audience AS jsonb), 'draft', :at, :by, :now) RETURNING id
        """),
        {
            "name": name,
            "content": json.dumps(content, ensure_ascii=False),
            "audience": json.dumps(audience, ensure_ascii=False),
            "at": ts(scheduled_at) if scheduled_at is not None else None,
            "by": by,
            "now": ts(now),
        },
    )
    cid = int(row.scalar_one())
    await audit(session, cid, by, "create", {"name": name, "audience": audience}, now)
    return cid


async def get(session: AsyncSession, cid: int, *, lock: bool = False) -> CampaignRow | None:
    sql = (
        "SELECT id, name, content, audience, state, scheduled_at, created_by, plan, audience_size FROM campaigns "
        "WHERE id = :id" + (" FOR UPDATE" if lock else "")
    )
    row = (await session.execute(text(sql), {"id": cid})).first()
    return None if row is None else CampaignRow(*row)


async def due(session: AsyncSession, now: float) -> list[int]:
    """Approved campaigns whose time has come (the scheduler starts them)."""
    rows = await session.execute(
        text("SELECT id FROM campaigns WHERE state = 'approved' AND scheduled_at <= :now ORDER BY scheduled_at"),
        {"now": ts(now)},
    )
    return [int(r[0]) for r in rows]


async def sending(session: AsyncSession) -> list[int]:
    return [int(r[0]) for r in await session.execute(text("SELECT id FROM campaigns WHERE state = 'sending'"))]


async def set_state(session: AsyncSession, cid: int, state: str) -> None:
    await session.execute(text("UPDATE campaigns SET state = :s WHERE id = :id"), {"s": state, "id": cid})


async def audit(session: AsyncSession, cid: int, actor: str, action: str, detail: dict[str, Any], now: float) -> None:
    await session.execute(
        text("""
        INSERT INTO campaign_audit (campaign_id, at, actor, action, detail)
        VALUES (:c, :now, :actor, :action, CAST(:detail AS jsonb))
        """),
        {"c": cid, "now": ts(now), "actor": actor, "action": action, "detail": json.dumps(detail, ensure_ascii=False)},
    )


async def audit_trail(session: AsyncSession, cid: int) -> list[tuple[str, str]]:
    rows = await session.execute(
        text("SELECT actor, action FROM campaign_audit WHERE campaign_id = :c ORDER BY id"), {"c": cid}
    )
    return [(str(a), str(b)) for a, b in rows]


async def approve(session: AsyncSession, cid: int, cadre: str, now: float) -> list[str]:
    """Record ``cadre``'s approval (once: the primary key); returns every approver so far."""
    await session.execute(
        text("INSERT INTO campaign_approvals VALUES (:c, :who, :now) ON CONFLICT DO NOTHING"),
        {"c": cid, "who": cadre, "now": ts(now)},
    )
    rows = await session.execute(
        text("SELECT cadre FROM campaign_approvals WHERE campaign_id = :c ORDER BY at"), {"c": cid}
    )
    return [str(r[0]) for r in rows]


async def add_openids(session: AsyncSession, cid: int, openids: list[str]) -> int:
    if not openids:
        return 0
    result = await session.execute(
        text("""
        INSERT INTO campaign_openids (campaign_id, external_id) SELECT :c, o FROM unnest(CAST(:ids AS text[])) AS o
        ON CONFLICT DO NOTHING
        """),
        {"c": cid, "ids": openids},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def tag_users(session: AsyncSession, tag: str, openids: list[str]) -> tuple[int, int]:
    """Tag the followers with these openids; returns (tagged now, openids the account does not know)."""
    known = await session.execute(
        text("SELECT id FROM users WHERE channel = 'wechat' AND external_id = ANY(:ids)"), {"ids": openids}
    )
    ids = [int(r[0]) for r in known]
    result = await session.execute(
        text("INSERT INTO user_tags SELECT :t, u FROM unnest(CAST(:ids AS bigint[])) AS u ON CONFLICT DO NOTHING"),
        {"t": tag, "ids": ids},
    )
    return int(result.rowcount), len(set(openids)) - len(ids)  # type: ignore[attr-defined]


# One pass over the audience: what the planner needs of each person (the customer-service messages
# since they were last seen, this month's mass sends: from the few rows sent lately, hash-joined),
# their way, and their rank within it (mass batches and template days are dealt by rank).
_CLASSIFY = """
CREATE TEMP TABLE plan_rows ON COMMIT DROP AS
WITH audience AS ({audience}),
recent AS (
  SELECT user_id, sent_at FROM outbox WHERE status = 'sent' AND way = 'custom' AND sent_at >= :window_start
),
massed AS (
  SELECT m AS user_id, count(*) AS n FROM outbox_batches b, unnest(b.members) AS m
  WHERE b.status = 'sent' AND b.sent_at >= :month_start GROUP BY m
),
facts AS (
  SELECT u.id, u.subscribed, u.last_seen,
    count(r.user_id) FILTER (WHERE r.sent_at >= u.last_seen) AS cs, coalesce(max(ms.n), 0) AS mass
  FROM users u JOIN (SELECT DISTINCT * FROM audience) AS a(id) ON a.id = u.id
  LEFT JOIN recent r ON r.user_id = u.id
  LEFT JOIN massed ms ON ms.user_id = u.id
  GROUP BY u.id
),
kinds AS (
  SELECT id, CASE
    WHEN NOT subscribed THEN 'unsubscribed'
    WHEN :template THEN 'template'
    WHEN last_seen > :window_start AND cs < :allowance THEN 'custom'
    WHEN mass < :monthly THEN 'mass'
    ELSE 'mass_quota' END AS kind
  FROM facts
)
SELECT id, kind, row_number() OVER (PARTITION BY kind ORDER BY id) - 1 AS rn FROM kinds
"""
# Mass recipients are dealt to batches by rank, round-robin: sizes differ by one at most.
_BATCHES = text("""
INSERT INTO outbox_batches (campaign_id, clientmsgid, size, members, status, next_attempt_at)
SELECT :c, :prefix || (rn % :nb), count(*), array_agg(id ORDER BY id), 'held', :start
FROM plan_rows WHERE kind = 'mass' GROUP BY rn % :nb
""")
_ROWS = text("""
INSERT INTO outbox (user_id, purpose, payload, way, planned, idem_key, status, next_attempt_at, last_error,
                    campaign_id, created_at, updated_at)
SELECT p.id, 'campaign', NULL,
  CASE WHEN p.kind IN ('custom', 'mass', 'template') THEN p.kind ELSE 'none' END,
  TRUE, NULL,
  CASE WHEN p.kind = 'unsubscribed' THEN 'dropped' ELSE 'held' END,
  CASE WHEN p.kind <> 'template' OR p.rn < :left THEN CAST(:start AS timestamptz)
       ELSE CAST(:midnight AS timestamptz) + ((p.rn - :left) / :daily) * interval '1 day' END,
  CASE WHEN p.kind IN ('custom', 'mass', 'template') THEN '' ELSE p.kind END,
  :c, :now, :now
FROM plan_rows p WHERE p.kind <> 'mass'
ON CONFLICT DO NOTHING
""")
_SUMMARY = text("""
SELECT way, status, last_error, (next_attempt_at AT TIME ZONE :tz)::date, count(*)
FROM outbox WHERE campaign_id = :c GROUP BY 1, 2, 3, 4
UNION ALL
SELECT 'mass', status, last_error, (next_attempt_at AT TIME ZONE :tz)::date, sum(size)
FROM outbox_batches WHERE campaign_id = :c AND status <> 'waiting' GROUP BY 2, 3, 4
ORDER BY 4, 1
""")


async def plan(
    session: AsyncSession, cid: int, audience_sql: str, binds: dict[str, Any], p: PlanInputs, tz: str
) -> dict[str, Any]:
    """Replace the campaign's held rows with a fresh plan; returns its summary (also kept on the campaign)."""
    await session.execute(
        text("DELETE FROM outbox WHERE campaign_id = :c AND status IN ('held', 'dropped')"), {"c": cid}
    )
    await session.execute(text("DELETE FROM outbox_batches WHERE campaign_id = :c AND status = 'held'"), {"c": cid})
    await session.execute(text("DROP TABLE IF EXISTS plan_rows"))
    campaign = await get(session, cid)
    assert campaign is not None
    await session.execute(
        text(_CLASSIFY.format(audience=audience_sql)),
        {
            **binds,
            "month_start": ts(p.month_start),
            "template": bool(campaign.content.get("template_id")),
            "window_start": ts(p.now - p.cs_window),
            "allowance": p.cs_allowance,
            "monthly": p.mass_monthly,
        },
    )
    counts: dict[str, int] = {
        str(k): int(n) for k, n in await session.execute(text("SELECT kind, count(*) FROM plan_rows GROUP BY kind"))
    }
    mass = int(counts.get("mass", 0))
    if mass == 1:
        # A mass send takes two openids at least: the one left waits for a window of their own.
        await session.execute(text("UPDATE plan_rows SET kind = 'mass_needs_two' WHERE kind = 'mass'"))
        mass = 0
    # Dealt round-robin: sizes differ by one at most, so with batches of 4 or more none holds fewer than 2.
    batches = math.ceil(mass / p.mass_batch) if mass else 0
    prefix = f"lt{cid}v{p.version}b"
    if batches:
        await session.execute(_BATCHES, {"c": cid, "prefix": prefix, "nb": batches, "start": ts(p.start)})
    await session.execute(
        _ROWS,
        {
            "c": cid,
            "left": p.template_left_today,
            "daily": max(1, p.template_daily),
            "start": ts(p.start),
            "midnight": ts(p.midnight),
            "now": ts(p.now),
        },
    )
    # The outbox may have grown by most of its size in this statement: fresh statistics keep the
    # workers' claims on their partial index from the first second (autovacuum's ANALYZE comes later).
    await session.execute(text("ANALYZE outbox, outbox_batches"))
    summary = await summarise(session, cid, tz)
    summary.update({"version": p.version, "start": p.start, "batches": batches})
    await session.execute(
        text("UPDATE campaigns SET plan = CAST(:plan AS jsonb), audience_size = :n, state = 'planned' WHERE id = :c"),
        {"plan": json.dumps(summary, ensure_ascii=False), "n": summary["recipients"], "c": cid},
    )
    return summary


async def summarise(session: AsyncSession, cid: int, tz: str) -> dict[str, Any]:
    ways: dict[str, int] = {}
    days: dict[str, dict[str, int]] = {}
    unreachable: dict[str, int] = {}
    total = 0
    for way, status, reason, day, n in await session.execute(_SUMMARY, {"c": cid, "tz": tz}):
        total += n
        if way == "none":
            unreachable[reason or status] = unreachable.get(reason or status, 0) + n
            continue
        ways[way] = ways.get(way, 0) + n
        days.setdefault(day.isoformat(), {})[way] = days.get(day.isoformat(), {}).get(way, 0) + n
    return {"recipients": total, "ways": ways, "days": days, "unreachable": unreachable}


async def start(session: AsyncSession, cid: int, now: float, planned_start: float) -> int:
    """Held rows and batches become due (shifted by how late the start is); rows with no way wait.
    Returns the rows moved."""
    shift = timedelta(seconds=max(0.0, now - planned_start))
    moved = await session.execute(
        text("""
        UPDATE outbox SET status = CASE WHEN way = 'none' THEN 'waiting' ELSE 'pending' END,
          next_attempt_at = next_attempt_at + :shift, updated_at = :now
        WHERE campaign_id = :c AND status = 'held'
        """),
        {"c": cid, "shift": shift, "now": ts(now)},
    )
    await session.execute(
        text("""
        UPDATE outbox_batches SET status = 'pending', next_attempt_at = next_attempt_at + :shift
        WHERE campaign_id = :c AND status = 'held'
        """),
        {"c": cid, "shift": shift},
    )
    return int(moved.rowcount)  # type: ignore[attr-defined]


async def cancel(session: AsyncSession, cid: int, now: float) -> int:
    """Whatever has not gone out stops; rows a worker is sending right now are waited for, then skipped."""
    stopped = await session.execute(
        text("""
        UPDATE outbox SET status = 'cancelled', updated_at = :now
        WHERE campaign_id = :c AND status IN ('held', 'pending', 'waiting')
        """),
        {"c": cid, "now": ts(now)},
    )
    sizes = await session.execute(
        text("""
        UPDATE outbox_batches SET status = 'cancelled' WHERE campaign_id = :c AND status IN ('held', 'pending')
        RETURNING size
        """),
        {"c": cid},
    )
    return int(stopped.rowcount) + sum(int(n) for (n,) in sizes)  # type: ignore[attr-defined]


async def progress(session: AsyncSession, cid: int) -> dict[str, int]:
    """Recipients by status: the campaign's rows, and the members of its batches."""
    rows = await session.execute(
        text("""
        SELECT status, count(*) FROM outbox WHERE campaign_id = :c GROUP BY 1
        UNION ALL
        SELECT status, sum(size) FROM outbox_batches WHERE campaign_id = :c AND status <> 'waiting' GROUP BY 1
        """),
        {"c": cid},
    )
    found: dict[str, int] = {}
    for status, n in rows:
        found[str(status)] = found.get(str(status), 0) + int(n)
    return found


async def unreachable(session: AsyncSession, cid: int) -> list[tuple[str, str]]:
    """(openid, reason) of everyone the plan cannot reach now (unfollowed, mass quota used …)."""
    rows = await session.execute(
        text("""
        SELECT u.external_id, o.last_error FROM outbox o JOIN users u ON u.id = o.user_id
        WHERE o.campaign_id = :c AND o.way = 'none' ORDER BY u.external_id
        """),
        {"c": cid},
    )
    return [(str(o), str(r)) for o, r in rows]
