"""The report of a run: the result table on stdout, and the summary that becomes the last JSON line."""

from __future__ import annotations

import argparse
import collections
import os
import statistics
from typing import Any


def _fmt(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def report(
    args: argparse.Namespace,
    res: dict[str, Any],
    rss_mb: float,
    outcomes: dict[str, float],
    routes: dict[str, float],
    log_events: collections.Counter[str],
    profiled: str,
) -> dict[str, Any]:
    n = int(res["requests"])
    seconds = float(res["seconds"])
    # Every message must take the full path (de-dup, lock, session, reply): one answered without
    # state ("degraded", the store was unreachable), late or by the error path is a failed run.
    short = {k: int(v) for k, v in outcomes.items() if k != "replied" and v}
    errors = int(sum(res["errors"].values())) + sum(short.values())
    server_cpu = float(res["server_user_s"]) + float(res["server_sys_s"])
    lat = res["latency_ms"]
    rps = n / seconds if seconds else 0.0
    cpu_us = server_cpu / n * 1e6 if n else float("nan")
    summary: dict[str, Any] = {
        "requests_per_s": round(rps, 1),
        "cpu_us_per_request": round(cpu_us, 1),
        "p50_ms": round(lat["p50"], 2),
        "p90_ms": round(lat["p90"], 2),
        "p99_ms": round(lat["p99"], 2),
        "errors": errors,
        "connections": args.connections,
        "server_rss_mb": round(rss_mb, 1),
        "requests": n,
        "seconds": round(seconds, 2),
        "users": args.users,
        "client": args.client,
        "mix": "text" if args.texts else args.mix,
        "texts": args.texts or None,
        "workers": args.workers,
        "client_cpu_us_per_request": round(float(res["client_cpu_s"]) / n * 1e6, 1) if n else None,
        "profiled": profiled or None,
    }
    title = (
        f"龙团 gateway benchmark: safe-mode text messages, {args.connections} connections ({args.client} client), "
        f"{args.users} users, " + (f"only {' / '.join(args.texts)}" if args.texts else f"{args.mix} mix")
    )
    print()
    print(title)
    print("─" * 78)
    rows = [
        ("measured window", f"{seconds:.2f} s after {res['warmup']['seconds']:.1f} s warm-up"),
        ("requests", f"{n:,}   ({_fmt(rps)} /s)"),
        (
            "latency (client)",
            f"p50 {lat['p50']:.2f} ms   p90 {lat['p90']:.2f} ms   p99 {lat['p99']:.2f} ms   "
            f"max {lat['max']:.1f} ms   mean {lat['mean']:.2f} ms",
        ),
        (
            "errors",
            f"{errors:,}"
            + (f"   {res['errors']}" if any(res["errors"].values()) else "")
            + (f"   not the full path on the server: {short}" if short else ""),
        ),
        ("replies verified", f"{res['samples_verified']:,} of {res['samples_checked']:,} sampled (decrypted, signed)"),
        (
            "server CPU",
            f"{_fmt(cpu_us)} µs/request   (user {res['server_user_s'] / n * 1e6:.0f} + sys "
            f"{res['server_sys_s'] / n * 1e6:.0f}; {server_cpu / seconds * 100:.0f} % of one core)"
            if n
            else "-",
        ),
        ("server RSS", f"{rss_mb:.1f} MB at the end"),
        (
            "client CPU",
            f"{summary['client_cpu_us_per_request']} µs/request "
            f"({res['client_cpu_s'] / seconds * 100:.0f} % of one core)",
        ),
        (
            "machine",
            f"{res['machine_busy_cores']:.2f} of {os.cpu_count()} cores busy in the window: server "
            f"{server_cpu / seconds:.2f}, client {res['client_cpu_s'] / seconds:.2f}, the rest "
            f"{res['machine_busy_cores'] - (server_cpu + res['client_cpu_s']) / seconds:.2f} "
            f"(Redis, PostgreSQL, other work); load average before {res.get('loadavg_before', '?')}",
        ),
        (
            "payloads",
            f"{res['payloads_made']:,} pre-signed in {res['payload_seconds']:.1f} s (outside the window)",
        ),
        ("Redis", f"{res.get('redis_keys_deleted', 0):,} keys of this run deleted"),
        ("server outcomes", ", ".join(f"{k} {int(v):,}" for k, v in sorted(outcomes.items())) + "  (whole run)"),
        ("routes", ", ".join(f"{k} {int(v):,}" for k, v in sorted(routes.items(), key=lambda kv: -kv[1]))),
        (
            "handler time",
            ", ".join(f"{k} {v:.2f}" for k, v in sorted(res.get("handler_ms", {}).items(), key=lambda kv: -kv[1]))
            + "  (ms a message, mean, whole run: awaits included)",
        ),
    ]
    if res["warmup"]["errors"]:
        rows.append(("warm-up errors", str(res["warmup"]["errors"])))
    if res["exhausted"]:
        rows.append(("WARNING", "a connection ran out of pre-signed payloads; the window ended early"))
    if log_events:
        rows.append(("server log", "; ".join(f"{e} ×{c}" for e, c in log_events.most_common(5))))
    if profiled:
        rows.append(("note", f"profiled with {profiled}: CPU and latency are above an unprofiled run"))
    for label, value in rows:
        print(f"  {label:<17} {value}")
    by_text = res.get("by_text_ms") or {}
    if len(by_text) > 1:
        print("  latency by text   share    p50 ms    p99 ms")
        for text, row in sorted(by_text.items(), key=lambda kv: -kv[1]["p99"]):
            print(f"    {row['share'] * 100:5.1f} %  {row['p50']:8.2f}  {row['p99']:8.2f}   {text}")
    print(f"  {_targets(cpu_us, lat['p99'], args.workers, args.connections, '')}")
    return summary


#: The figures a series of runs reports as its median (and range).
_MEDIAN_OF = ("requests_per_s", "cpu_us_per_request", "p50_ms", "p90_ms", "p99_ms", "client_cpu_us_per_request")


def report_series(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """``--runs N``: each run's figures in a table, and their medians as the summary.

    A 2-core VM shared with Redis, PostgreSQL and the load generator varies by ±10-20 % from one
    run to the next; one run says little, the median of several says what a typical run gives.
    """
    print()
    print(f"龙团 gateway benchmark: {len(summaries)} runs")
    print("─" * 78)
    print(f"  {'run':>3}  {'req/s':>8}  {'CPU µs/req':>10}  {'p50 ms':>7}  {'p99 ms':>7}  {'errors':>6}")
    for i, s in enumerate(summaries, 1):
        print(
            f"  {i:>3}  {s['requests_per_s']:>8,.0f}  {s['cpu_us_per_request']:>10.1f}  "
            f"{s['p50_ms']:>7.2f}  {s['p99_ms']:>7.2f}  {s['errors']:>6}"
        )
    summary = dict(summaries[-1])
    for key in _MEDIAN_OF:
        values = [s[key] for s in summaries if s.get(key) is not None]
        if values:
            summary[key] = round(statistics.median(values), 2)
            summary[f"{key}_range"] = [min(values), max(values)]
    summary["errors"] = sum(s["errors"] for s in summaries)
    summary["requests"] = sum(s["requests"] for s in summaries)
    summary["runs"] = len(summaries)
    cpu, p99 = summary["cpu_us_per_request"], summary["p99_ms"]
    print(
        f"  median: {summary['requests_per_s']:,.0f} req/s, {cpu:.1f} µs CPU/request, p99 {p99:.2f} ms"
        f"  (CPU range {summary['cpu_us_per_request_range'][0]:.1f}-{summary['cpu_us_per_request_range'][1]:.1f})"
    )
    print(f"  {_targets(cpu, p99, summary['workers'], summary['connections'], ' (median)')}")
    return summary


def _targets(cpu_us: float, p99_ms: float, workers: int, connections: int, of: str) -> str:
    """The gateway's targets: ≤ 250 µs of CPU per request on one process, p99 < 30 ms at 64 connections."""
    if workers != 1 or connections != 64:
        return "targets: set for one process at 64 connections, not compared here"
    cpu = "met" if cpu_us <= 250 else "NOT met"
    p99 = "met" if p99_ms < 30 else "NOT met"
    return f"targets{of}: ≤ 250 µs CPU/request → {cpu}; p99 < 30 ms at 64 connections → {p99}"
