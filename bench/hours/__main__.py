"""The command line of ``python -m bench.hours``: load, serve, measure, report."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bench.hours
from bench.gateway.errors import BenchError
from bench.gateway.processes import TICKS_PER_S, machine_ticks, process_cpu_ticks
from bench.gateway.profiler import PROFILE_OUT_ENV, ProfileSpec
from bench.gateway.server import Server, free_port, log_summary, metric_counts, server_env
from bench.gateway.services import check_redis, delete_redis_keys
from bench.hours import data, drive

#: The batcher of 「我的时长」 reads (``bot.db.volunteer.ledger.summary``).
SUMMARY_BATCHER = "volunteer.ledger.summary"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    doc = bench.hours.__doc__ or ""
    p = argparse.ArgumentParser(prog="python -m bench.hours", description=doc.split("\n\n")[0])
    p.add_argument("--checkins", type=int, default=317_733, help="check-ins in the ledger (default 317,733)")
    p.add_argument("--volunteers", type=int, default=40_000, help="distinct volunteers (default 40,000)")
    p.add_argument("--requests", type=int, default=20_000, help="「我的时长」 requests (default 20,000)")
    p.add_argument("--connections", type=int, default=64, help="concurrent keep-alive connections (default 64)")
    p.add_argument("--burst", type=int, default=2_000, help="volunteers checking in to one event (default 2,000)")
    p.add_argument("--walk-ins", type=int, default=200, help="of the burst, volunteers without a signup (default 200)")
    p.add_argument("--workers", type=int, default=1, help="server processes (longtuan serve --workers; default 1)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--profile", action="store_true", help="cProfile the server during 「我的时长」 and print the top")
    args = p.parse_args(argv)
    if min(args.checkins, args.volunteers, args.requests, args.connections, args.burst, args.workers) < 1:
        p.error("every count must be at least 1")
    if args.burst > args.volunteers:
        p.error("--burst cannot exceed --volunteers")
    if not 0 <= args.walk_ins <= args.burst:
        p.error("--walk-ins must be between 0 and --burst")
    return args


async def measure(
    args: argparse.Namespace, port: int, token: str, app_id: str, aes_key: str, server: Server
) -> dict[str, Any]:
    rng = random.Random(args.seed)
    url = f"http://127.0.0.1:{port}/wechat"
    payloads = drive.Payloads(url, token, app_id, aes_key)
    users = [data.openid(i) for i in range(args.volunteers)]
    lanes = drive.hours_lanes(payloads, users, args.connections, args.requests, rng)
    # The first 5 % of each lane warm the server's pools and caches; they are not measured.
    warm = max(1, len(lanes[0]) // 20)
    await drive.run_phase("127.0.0.1", port, [lane[:warm] for lane in lanes])
    if args.profile:
        os.kill(server.pid, signal.SIGUSR1)
    busy0, all0 = machine_ticks()
    hours = await drive.run_phase("127.0.0.1", port, [lane[warm:] for lane in lanes], keep_every=8)
    busy1, all1 = machine_ticks()
    if args.profile:
        os.kill(server.pid, signal.SIGUSR2)
    hours.errors.update(drive.check_replies(payloads, hours.replies, "你的志愿时长"))
    # How many people's 「我的时长」 each statement answered (bot.db.batch), warm-up included.
    scraped = await asyncio.to_thread(server.get, "/metrics")
    batches = metric_counts(scraped, "longtuan_db_batches_total", "name").get(SUMMARY_BATCHER, 0.0)
    batched = metric_counts(scraped, "longtuan_db_batched_reads_total", "name").get(SUMMARY_BATCHER, 0.0)

    # The event's volunteers: the first of them signed up beforehand (data.load), the rest walk in.
    burst_users = users[: args.burst]
    rng.shuffle(burst_users)
    burst_lanes = [
        [payloads.make(u, "签到 000001") for u in lane] for lane in drive.partition(burst_users, args.connections)
    ]
    burst = await drive.run_phase("127.0.0.1", port, burst_lanes)
    burst.errors.update(drive.check_replies(payloads, burst.replies, "签到成功"))

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(data.DATABASE_URL)
    try:
        async with engine.connect() as conn:
            made = int(
                await conn.scalar(
                    text(
                        "SELECT count(*) FROM volunteer_checkins"
                        " WHERE shift_id = (SELECT id FROM volunteer_shifts WHERE code = '000001')"
                    )
                )
                or 0
            )
    finally:
        await engine.dispose()
    ordered, bursty = sorted(hours.latencies), sorted(burst.latencies)
    # The whole machine during 「我的时长」: server, PostgreSQL, Redis and this load generator share
    # its cores, so its CPU a request bounds what a closed loop can do (Little's law below).
    machine_us = (busy1 - busy0) / TICKS_PER_S / max(1, len(ordered)) * 1e6
    cores = os.cpu_count() or 1
    return {
        "requests": len(ordered),
        "rps": len(ordered) / hours.seconds if hours.seconds else 0.0,
        "p50_ms": drive.percentile(ordered, 0.50) * 1e3,
        "p90_ms": drive.percentile(ordered, 0.90) * 1e3,
        "p99_ms": drive.percentile(ordered, 0.99) * 1e3,
        "max_ms": (ordered[-1] if ordered else float("nan")) * 1e3,
        "errors": dict(hours.errors),
        "summary_batch_mean": batched / batches if batches else 0.0,
        "machine_cpu_us_per_request": machine_us,
        "machine_busy_pct": (busy1 - busy0) / max(1, all1 - all0) * 100,
        "cores": cores,
        "burst_requests": len(bursty),
        "burst_seconds": burst.seconds,
        "burst_checkins": made,
        "burst_p99_ms": drive.percentile(bursty, 0.99) * 1e3,
        "burst_max_ms": (bursty[-1] if bursty else float("nan")) * 1e3,
        "burst_errors": dict(burst.errors),
    }


def run(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    prefix = f"lt-bench-hours-{uuid.uuid4().hex[:8]}:"
    token, app_id = f"bench-{secrets.token_hex(8)}", f"wx{secrets.token_hex(8)}"
    aes_key = base64.b64encode(os.urandom(32)).decode().rstrip("=")
    workdir = Path(tempfile.mkdtemp(prefix="longtuan-bench-hours-"))
    server: Server | None = None
    try:
        check_redis()
        print(f"loading the ledger into {data.DB_NAME} ...", file=sys.stderr)
        loaded = asyncio.run(data.load(args.volunteers, args.checkins, args.burst, args.walk_ins))
        port = free_port()
        env = server_env(port, prefix, token, app_id, aes_key, ProfileSpec())
        env["LONGTUAN_DATABASE_URL"] = data.DATABASE_URL
        print(f"starting the server on 127.0.0.1:{port} ...", file=sys.stderr)
        spec = ProfileSpec("cprofile", "", str(workdir / "profile.pstats")) if args.profile else ProfileSpec()
        if args.profile:
            env[PROFILE_OUT_ENV] = spec.out
        server = Server(port, env, workdir / "server.log", spec, args.workers)
        server.wait_healthy()
        with contextlib.suppress(ImportError):
            import uvloop

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        cpu0 = process_cpu_ticks(server.pid)
        result = asyncio.run(measure(args, port, token, app_id, aes_key, server))
        cpu1 = process_cpu_ticks(server.pid)
        total = result["requests"] + result["burst_requests"]
        result["server_cpu_us_per_request"] = (sum(cpu1) - sum(cpu0)) / TICKS_PER_S / max(1, total) * 1e6
        if args.profile:
            import pstats

            time.sleep(1)  # the stats are written by the server's signal handler
            pstats.Stats(spec.out, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    finally:
        if server is not None:
            server.stop()
            # Kept where it can be read after the run (the work folder goes).
            with contextlib.suppress(OSError):
                shutil.copy(server.log_path, Path(tempfile.gettempdir()) / "bench-hours-server.log")
            for event, count in log_summary(server.log_path).most_common(5):
                print(f"server log: {count} x {event}", file=sys.stderr)
        with contextlib.suppress(BenchError):
            delete_redis_keys(prefix)
        shutil.rmtree(workdir, ignore_errors=True)
    summary = {
        "checkins": loaded.checkins,
        "ledger_entries": loaded.ledger,
        "volunteers": loaded.volunteers,
        "load_seconds": round(loaded.seconds, 2),
        "connections": args.connections,
        "workers": args.workers,
        "burst_walk_ins": args.walk_ins,
        **{k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()},
    }
    ok = not result["errors"] and not result["burst_errors"] and result["burst_checkins"] == args.burst
    return (0 if ok else 1), summary


def report(summary: dict[str, Any]) -> None:
    # Little's law for a closed loop: latency = connections / throughput, and throughput is at most
    # cores / (CPU a request), whatever the code does with the time in between.
    bound_rps = summary["cores"] / max(1e-9, summary["machine_cpu_us_per_request"] * 1e-6)
    bound_ms = summary["connections"] / max(1e-9, bound_rps) * 1e3
    rows = [
        ("ledger", f"{summary['checkins']:,} check-ins, {summary['ledger_entries']:,} entries, "
                   f"{summary['volunteers']:,} volunteers, loaded in {summary['load_seconds']} s"),
        ("「我的时长」", f"{summary['requests']:,} requests at {summary['connections']} connections, "
                      f"{summary['workers']} server process(es), "
                      f"{summary['rps']:.0f}/s"),
        ("  latency", f"p50 {summary['p50_ms']} ms, p90 {summary['p90_ms']} ms, p99 {summary['p99_ms']} ms "
                      f"(target <= 20), max {summary['max_ms']} ms"),
        ("  errors", json.dumps(summary["errors"], ensure_ascii=False) if summary["errors"] else "none"),
        ("  reads", f"{summary['summary_batch_mean']} people a statement on average (one server process's)"),
        ("  machine", f"{summary['machine_cpu_us_per_request']:.0f} µs of CPU a request in all processes "
                      f"(server, PostgreSQL, Redis, load generator), {summary['machine_busy_pct']:.0f}% of "
                      f"{summary['cores']} cores busy"),
        ("  bound", f"at that cost {bound_rps:,.0f}/s at most on {summary['cores']} cores: "
                    f"{summary['connections']} connections in a closed loop wait {bound_ms:.1f} ms on average "
                    "at the least (Little's law)"),
        ("burst", f"{summary['burst_requests']:,} 「签到」 ({summary['burst_walk_ins']} walk-ins) in "
                  f"{summary['burst_seconds']} s: {summary['burst_checkins']:,} check-ins"),
        ("  latency", f"p99 {summary['burst_p99_ms']} ms, max {summary['burst_max_ms']} ms (target <= 1000)"),
        ("  errors", json.dumps(summary["burst_errors"], ensure_ascii=False) if summary["burst_errors"] else "none"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        code, summary = run(args)
    except BenchError as exc:
        print(f"bench.hours: {exc}", file=sys.stderr)
        sys.exit(2)
    report(summary)
    print(json.dumps(summary, ensure_ascii=False))
    sys.exit(code)


if __name__ == "__main__":
    main()
