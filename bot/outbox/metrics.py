"""Delivery metrics: sends and refusals per way (counted by the worker), and a snapshot of the outbox
(depth, age of the oldest due row, template quota left today) refreshed from the database.

The snapshot is a collector over the last refresh, so a scrape never waits on the database;
``refresh`` runs every few seconds in the worker and, with the outbox on, in the web process
(in each of ``serve --workers N``'s processes: ``bot.metrics.Metrics.register_live``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, time
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.db import Database
from bot.db.delivery.outbox import Depth, depth, sent_since
from bot.errors import Unavailable

log = logging.getLogger("longtuan.outbox.metrics")


def day_start(now: float, tz: ZoneInfo) -> float:
    """The epoch second the local day of ``now`` began (quotas reset at local midnight)."""
    local = datetime.fromtimestamp(now, tz)
    return datetime.combine(local.date(), time(0), tz).timestamp()


class Snapshot(Collector):
    def __init__(self, template_daily: int) -> None:
        self.template_daily = template_daily
        self.depth = Depth({}, 0.0)
        self.template_today = 0

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("longtuan_outbox_depth", "Outbox rows by status", labels=["status"])
        for status in ("held", "pending", "waiting"):
            depth.add_metric([status], self.depth.by_status.get(status, 0))
        yield depth
        yield GaugeMetricFamily(
            "longtuan_outbox_oldest_due_seconds", "How long the oldest due row has waited", value=self.depth.oldest_due
        )
        quota = GaugeMetricFamily("longtuan_delivery_quota_left", "Sends left today by way", labels=["way"])
        quota.add_metric(["template"], max(0, self.template_daily - self.template_today))
        yield quota

    async def refresh(self, db: Database, now: float, tz: ZoneInfo) -> None:
        async with db.session() as s:
            self.depth = await depth(s, now)
            self.template_today = await sent_since(s, "template", day_start(now, tz))


class DeliveryMetrics:
    """The engine's counters in ``registry``, and the outbox snapshot: ``snapshot`` when the process
    has one already (the web's, for its own worker), else a new one registered beside them."""

    def __init__(self, registry: CollectorRegistry, template_daily: int, snapshot: Snapshot | None = None) -> None:
        self.registry = registry
        self.sent = Counter("longtuan_delivery_sent", "Recipients reached, by way", ["way"], registry=registry)
        self.failed = Counter(
            "longtuan_delivery_failed",
            "Refused or failed calls, by way and errcode",
            ["way", "errcode"],
            registry=registry,
        )
        self.lag = Histogram(
            "longtuan_worker_lag_seconds",
            "From a row's due time to its claim",
            registry=registry,
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600),
        )
        if snapshot is None:
            snapshot = Snapshot(template_daily)
            registry.register(snapshot)
        self.snapshot = snapshot


async def refresh_forever(
    snapshot: Snapshot, db: Database, clock: Callable[[], float], tz: ZoneInfo, every: float = 5.0
) -> None:
    while True:
        try:
            await snapshot.refresh(db, clock(), tz)
        except Unavailable:
            log.warning("outbox metrics not refreshed: database unavailable")
        except Exception:
            log.exception("outbox metrics refresh failed")
        await asyncio.sleep(every)


@contextlib.asynccontextmanager
async def refreshing(
    snapshot: Snapshot, db: Database, clock: Callable[[], float], tz: ZoneInfo
) -> AsyncIterator[Snapshot]:
    task = asyncio.create_task(refresh_forever(snapshot, db, clock, tz))
    try:
        yield snapshot
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
