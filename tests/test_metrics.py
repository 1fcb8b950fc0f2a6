"""The hot metrics (counted in plain Python in a single process) read exactly as prometheus_client's own."""

from __future__ import annotations

import random

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import Metrics, _Hot

BUCKETS = (0, 0.001, 0.01, 0.5, 1, 4.5, 5)


def samples(text: bytes) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    return {
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
        if not s.name.endswith("_created")
    }


def test_hot_metrics_read_as_prometheus_client_metrics() -> None:
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    their_counter = Counter("t_requests", "doc", ["channel", "outcome"], registry=theirs)
    their_histogram = Histogram("t_seconds", "doc", ["route"], registry=theirs, buckets=BUCKETS)
    our_counter, our_histogram = (
        _Hot("t_requests", "doc", ["channel", "outcome"]),
        _Hot("t_seconds", "doc", ["route"], BUCKETS),
    )
    ours.register(our_counter)
    ours.register(our_histogram)

    rng = random.Random(5)
    values = [0.0, 0.001, 0.01, 5.0, 6.0, *BUCKETS] + [rng.uniform(0, 6) for _ in range(500)]
    for value in values:
        route = rng.choice(["faq.answer", "menu.show_help"])
        their_histogram.labels(route).observe(value)
        our_histogram.labels(route).observe(value)
        outcome = rng.choice(["replied", "duplicate"])
        their_counter.labels("wechat", outcome).inc()
        our_counter.labels("wechat", outcome).inc()

    assert samples(generate_latest(ours)) == samples(generate_latest(theirs))


def test_wrong_label_count_is_refused() -> None:
    with pytest.raises(ValueError, match="takes the labels"):
        _Hot("x", "doc", ["a", "b"]).labels("only-one")


def test_worker_processes_keep_prometheus_client(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    # Under --workers N the values must go to the shared files that every worker's /metrics sums.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    metrics = Metrics()
    assert isinstance(metrics.requests, Counter) and isinstance(metrics.handler_seconds, Histogram)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    assert isinstance(Metrics().requests, _Hot)


def test_live_gauges_are_shown_beside_the_worker_files(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    """Under --workers N, /metrics reads the shared files, which cannot hold a gauge read from the
    database at scrape time (the outbox's depth): it is added from the process the scrape lands on."""
    from bot.db.delivery.outbox import Depth
    from bot.outbox.metrics import Snapshot

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    metrics = Metrics()
    snapshot = Snapshot(template_daily=100)
    snapshot.depth, snapshot.template_today = Depth({"pending": 7}, 12.5), 40
    metrics.register_live(snapshot)
    page = samples(metrics.render())
    assert ("longtuan_outbox_depth", (("status", "pending"),), 7.0) in page
    assert ("longtuan_outbox_oldest_due_seconds", (), 12.5) in page
    assert ("longtuan_delivery_quota_left", (("way", "template"),), 60.0) in page
