"""The report of a run: the result table on stdout, and the summary that becomes the last JSON line."""

from __future__ import annotations

import argparse
import collections
import os
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
        "workers": args.workers,
        "client_cpu_us_per_request": round(float(res["client_cpu_s"]) / n * 1e6, 1) if n else None,
        "profiled": profiled or None,
    }
    title = (
        f"龙团 gateway benchmark: safe-mode text messages, {args.connections} connections ({args.client} client), "
        f"{args.users} users"
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
    targets = f"targets: ≤ 250 µs CPU/request → {'met' if cpu_us <= 250 else 'NOT met'}; "
    targets += f"p99 < 30 ms at 64 connections → {'met' if lat['p99'] < 30 else 'NOT met'}"
    print(f"  {targets}")
    return summary
