"""Prometheus metrics of one app instance (own registry, so tests and apps never share counters).

Under ``longtuan serve --workers N`` each worker counts into files under
``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode, set up by the parent before
the workers start), and ``/metrics`` sums every worker's files: a scrape lands on one worker but
reports them all. What ``register_live`` adds (gauges read from the database) is read from the
process the scrape lands on: every process reads the same database.

The three metrics every message updates (requests by outcome, handler latency, time left to the
deadline) are, in a single process, counted in plain Python and handed to prometheus_client only
when scraped (``_Hot``): its own types take a lock and walk the buckets in Python on every
update, 6-8 us of a message's CPU. The event loop is the only writer, so no lock is needed.
"""

from __future__ import annotations

import bisect
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector


class _HotCount:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount


class _HotBuckets:
    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: list[float]) -> None:
        self.bounds = bounds
        self.counts = [0] * len(bounds)
        self.sum = 0.0

    def observe(self, amount: float) -> None:
        # The first bucket whose upper bound is >= amount ("le"); the last bound is +Inf.
        self.counts[bisect.bisect_left(self.bounds, amount)] += 1
        self.sum += amount


class _Hot(Collector):
    """A labelled counter or histogram with prometheus_client's ``labels(...)`` interface."""

    def __init__(self, name: str, doc: str, labelnames: Sequence[str], buckets: Sequence[float] | None = None) -> None:
        self.name, self.doc, self.labelnames = name, doc, list(labelnames)
        self.bounds = None if buckets is None else [float(b) for b in buckets if b != math.inf] + [math.inf]
        self._children: dict[tuple[str, ...], Any] = {}

    def labels(self, *values: str) -> Any:
        child = self._children.get(values)
        if child is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name} takes the labels {self.labelnames}")
            child = self._children[values] = _HotCount() if self.bounds is None else _HotBuckets(self.bounds)
        return child

    def collect(self) -> Iterator[Metric]:
        if self.bounds is None:
            counter = CounterMetricFamily(self.name, self.doc, labels=self.labelnames)
            for values, count in self._children.items():
                counter.add_metric(list(values), count.value)
            yield counter
            return
        histogram = HistogramMetricFamily(self.name, self.doc, labels=self.labelnames)
        for values, child in self._children.items():
            cumulative, buckets = 0, []
            for bound, count in zip(child.bounds, child.counts, strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == math.inf else repr(bound), cumulative))
            histogram.add_metric(list(values), buckets, child.sum)
        yield histogram


class _Counted(Protocol):
    batches: int
    keys: int


class BatchCounts(Collector):
    """``longtuan_db_batches_total`` and ``longtuan_db_batched_reads_total`` by batcher
    (``bot.db.batch``), read at scrape time from this process's ``Database.batchers``: their
    ratio is the mean batch size. Here, not in ``bot.db``: prometheus_client must not be imported
    before ``serve --workers`` has set up its multiprocess folder."""

    def __init__(self, batchers: Mapping[str, _Counted]) -> None:
        self.batchers = batchers

    def collect(self) -> Iterator[Metric]:
        batches = CounterMetricFamily("longtuan_db_batches", "Batched reads sent (bot.db.batch)", labels=["name"])
        reads = CounterMetricFamily("longtuan_db_batched_reads", "Distinct keys in those batches", labels=["name"])
        for name, batcher in sorted(self.batchers.items()):
            batches.add_metric([name], batcher.batches)
            reads.add_metric([name], batcher.keys)
        yield batches
        yield reads


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        hot = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")

        def counter(name: str, doc: str, labels: list[str]) -> Any:
            if not hot:
                return Counter(name, doc, labels, registry=r)
            metric = _Hot(name, doc, labels)
            r.register(metric)
            return metric

        def histogram(name: str, doc: str, labels: list[str], buckets: tuple[float, ...]) -> Any:
            if not hot:
                return Histogram(name, doc, labels, registry=r, buckets=buckets)
            metric = _Hot(name, doc, labels, buckets)
            r.register(metric)
            return metric

        self.requests = counter("longtuan_requests", "Inbound webhook requests by outcome", ["channel", "outcome"])
        self.refusals = Counter("longtuan_refusals", "Refused requests by reason", ["channel", "reason"], registry=r)
        self.duplicates = Counter(
            "longtuan_duplicate_deliveries", "Platform retries answered from the dedupe cache", registry=r
        )
        self.deferred = Counter(
            "longtuan_deferred_replies", "Replies that missed the deadline and went out later", registry=r
        )
        self.late_sends = Counter(
            "longtuan_late_sends", "Late replies: sent, queued in the outbox, or failed", ["result"], registry=r
        )
        self.lock_timeouts = Counter(
            "longtuan_lock_timeouts",
            "Messages answered busy because the same user's previous message held the lock",
            registry=r,
        )
        self.locks_lost = Counter(
            "longtuan_locks_lost", "Conversation locks that lapsed before the message finished", registry=r
        )
        self.unknown = Counter(
            "longtuan_unknown_types", "Messages or events of a type the gateway does not know", ["type"], registry=r
        )
        self.handler_seconds = histogram(
            "longtuan_handler_seconds",
            "Handler latency by route",
            ["route"],
            (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 4.5),
        )
        self.deadline_left = histogram(
            "longtuan_deadline_left_seconds",
            "Time left to the platform's 5-second deadline when answering",
            ["channel"],
            (0, 0.5, 1, 2, 3, 4, 4.5, 4.9, 4.95, 4.99, 5),
        )

        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._live: list[Collector] = []

    def child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, cached: the library takes a lock and builds a key each call."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def register_live(self, collector: Collector) -> None:
        """A collector read at scrape time in this process (the outbox's gauges, taken from the
        database): shown on /metrics in every mode, since the worker files cannot hold it."""
        self.registry.register(collector)
        self._live.append(collector)

    def render(self) -> bytes:
        folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if folder:
            merged = CollectorRegistry()
            MultiProcessCollector(merged, path=folder)  # type: ignore[no-untyped-call]  # unannotated upstream
            for collector in self._live:
                merged.register(collector)
            return generate_latest(merged)
        return generate_latest(self.registry)
