"""Prometheus metrics of one app instance (own registry, so tests and apps never share counters).

Under ``longtuan serve --workers N`` each worker counts into files under
``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode, set up by the parent before
the workers start), and ``/metrics`` sums every worker's files: a scrape lands on one worker but
reports them all.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "longtuan_requests", "Inbound webhook requests by outcome", ["channel", "outcome"], registry=r
        )
        self.refusals = Counter("longtuan_refusals", "Refused requests by reason", ["channel", "reason"], registry=r)
        self.duplicates = Counter(
            "longtuan_duplicate_deliveries", "Platform retries answered from the dedupe cache", registry=r
        )
        self.deferred = Counter(
            "longtuan_deferred_replies", "Replies that missed the deadline and went out later", registry=r
        )
        self.late_sends = Counter(
            "longtuan_late_sends", "Customer-service sends of late replies", ["result"], registry=r
        )
        self.unknown = Counter(
            "longtuan_unknown_types", "Messages or events of a type the gateway does not know", ["type"], registry=r
        )
        self.handler_seconds = Histogram(
            "longtuan_handler_seconds",
            "Handler latency by route",
            ["route"],
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 4.5),
        )
        self.deadline_left = Histogram(
            "longtuan_deadline_left_seconds",
            "Time left to the platform's 5-second deadline when answering",
            ["channel"],
            registry=r,
            buckets=(0, 0.5, 1, 2, 3, 4, 4.5, 4.9, 4.95, 4.99, 5),
        )

        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, cached: the library takes a lock and builds a key each call."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def render(self) -> bytes:
        folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if folder:
            merged = CollectorRegistry()
            MultiProcessCollector(merged, path=folder)  # type: ignore[no-untyped-call]  # unannotated upstream
            return generate_latest(merged)
        return generate_latest(self.registry)
