"""One run, in order: database, server, the burst, what the replies and the database say, the report."""

from __future__ import annotations

import argparse
import asyncio
import base64
import math
import os
import pstats
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from bench.gateway.processes import TICKS_PER_S, process_cpu_ticks
from bench.gateway.profiler import ProfileSpec
from bench.gateway.server import Server, free_port, log_summary, server_env
from bench.gateway.services import check_redis, delete_redis_keys
from bench.signups import seed
from bench.signups.burst import Answer, burst

#: The targets of the issue: the slowest answer at or under one second.
MAX_MS_TARGET = 1000.0


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else float("nan")


def run(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    prefix = f"lt-bench-signups-{uuid.uuid4().hex[:8]}:"
    token, app_id = f"bench-{os.urandom(8).hex()}", f"wx{os.urandom(8).hex()}"
    aes_key = base64.b64encode(os.urandom(32)).decode().rstrip("=")
    workdir = Path(tempfile.mkdtemp(prefix="longtuan-bench-signups-"))
    users = [f"o-bench-{n:05d}-{os.urandom(4).hex()}" for n in range(args.users)]
    server: Server | None = None
    try:
        print(f"preparing database {seed.DB_NAME} ...", file=sys.stderr)
        check_redis()
        seed.prepare()
        class_id = asyncio.run(seed.seed(users, args.seats))
        port = free_port()
        spec = ProfileSpec("cprofile", "", str(workdir / "profile.pstats")) if args.profile else ProfileSpec()
        env = server_env(port, prefix, token, app_id, aes_key, spec)
        env["LONGTUAN_DATABASE_URL"] = seed.DATABASE_URL
        print(f"starting the server on 127.0.0.1:{port} ...", file=sys.stderr)
        server = Server(port, env, workdir / "server.log", spec, args.workers)
        server.wait_healthy()
        print(f"{args.users} signups for {args.seats} seats, all at once ...", file=sys.stderr)
        url = f"http://127.0.0.1:{port}/wechat"
        said = "帮助" if args.baseline else f"报名#{class_id}"
        if args.profile:
            os.kill(server.pid, signal.SIGUSR1)
        cpu0, wall0 = process_cpu_ticks(server.pid), time.perf_counter()
        answers = asyncio.run(burst(url, token, app_id, aes_key, users, said))
        cpu1, wall = process_cpu_ticks(server.pid), time.perf_counter() - wall0
        if args.profile:
            os.kill(server.pid, signal.SIGUSR2)
            time.sleep(1.0)  # the server writes its stats
            pstats.Stats(spec.out).sort_stats("tottime").print_stats(args.profile)
        server.stop()
        rows = asyncio.run(seed.signups(class_id))
        log = log_summary(server.log_path)
        summary = _summary(args, answers, rows, log)
        summary["server_cpu_s"] = round((sum(cpu1) - sum(cpu0)) / TICKS_PER_S, 2)
        summary["burst_wall_s"] = round(wall, 2)
        _print(args, summary)
        for event, count in log.most_common(5):
            print(f"server log: {count} × {event}")
        first_error = _first_traceback(server.log_path)
        if first_error:
            print(f"first traceback in the server log:\n{first_error}")
        ok = summary["targets_met"]
        return (0 if ok else 1), summary
    finally:
        if server is not None:
            server.stop()
        delete_redis_keys(prefix)
        shutil.rmtree(workdir, ignore_errors=True)


def _first_traceback(log_path: Path) -> str:
    """The last lines of the first exception the server logged (what made answers fail)."""
    import json

    for line in log_path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        for key in ("exc",):
            if isinstance(record, dict) and record.get(key):
                return "\n".join(str(record[key]).splitlines()[-6:])
    return ""


def _summary(
    args: argparse.Namespace, answers: list[Answer], rows: list[tuple[int, str, str]], log: Counter[str]
) -> dict[str, Any]:
    if args.baseline:  # 「帮助」 answers are neither booked nor waitlisted: count them as answered
        answers = [Answer(a.user, a.status, a.seconds, "confirmed") if a.outcome == "other" else a for a in answers]
    outcomes = Counter(a.outcome for a in answers)
    latencies = sorted(a.seconds * 1e3 for a in answers)
    confirmed = [r for r in rows if r[2] == "confirmed"]
    waiting = [r for r in rows if r[2] == "waitlisted"]
    told = {a.user: a.position for a in answers if a.outcome == "waitlisted"}
    booked = {a.user for a in answers if a.outcome == "confirmed"}
    # Arrival order: seats went to the earliest signups, and the position each person was told is
    # their place among those waiting, in signup order (those answered late were told nothing here).
    in_order = (
        bool(confirmed)
        and (not waiting or max(r[0] for r in confirmed) < min(r[0] for r in waiting))
        and all(told[r[1]] == place for place, r in enumerate(waiting, start=1) if r[1] in told)
        and booked <= {r[1] for r in confirmed}
    )
    answered = outcomes["confirmed"] + outcomes["waitlisted"]
    max_ms = latencies[-1] if latencies else float("nan")
    summary: dict[str, Any] = {
        "confirmed": len(confirmed),
        "waitlisted": len(waiting),
        "max_ms": round(max_ms, 1),
        "p99_ms": round(_percentile(latencies, 0.99), 1),
        "p50_ms": round(_percentile(latencies, 0.50), 1),
        "users": args.users,
        "seats": args.seats,
        "answered": answered,
        "told_confirmed": outcomes["confirmed"],
        "told_waitlisted": outcomes["waitlisted"],
        "other_answers": outcomes["other"],
        "errors": outcomes["error"],
        "in_arrival_order": in_order,
        "workers": args.workers,
        "server_warnings": sum(log.values()),
    }
    summary["targets_met"] = (
        summary["confirmed"] == args.seats
        and summary["waitlisted"] == args.users - args.seats
        and answered == args.users
        and in_order
        and max_ms <= MAX_MS_TARGET
    )
    details = Counter(a.detail for a in answers if a.outcome in ("other", "error"))
    summary["problems"] = dict(details.most_common(5)) or None
    return summary


def _print(args: argparse.Namespace, s: dict[str, Any]) -> None:
    print()
    print(f"龙团 signup burst: {args.users} people, one class of {args.seats} seats, all at once")
    print("─" * 72)
    rows = [
        ("confirmed (database)", f"{s['confirmed']}  (target {args.seats})"),
        ("waitlisted (database)", f"{s['waitlisted']}  (target {args.users - args.seats})"),
        (
            "answered",
            f"{s['answered']} of {args.users}: {s['told_confirmed']} booked, {s['told_waitlisted']} waitlisted",
        ),
        ("other answers / errors", f"{s['other_answers']} / {s['errors']}"),
        ("in arrival order", "yes" if s["in_arrival_order"] else "NO"),
        (
            "latency p50 / p99 / max",
            f"{s['p50_ms']:.0f} / {s['p99_ms']:.0f} / {s['max_ms']:.0f} ms  (max target ≤ 1000)",
        ),
        ("server warnings logged", str(s["server_warnings"])),
        ("targets met", "yes" if s["targets_met"] else "NO"),
    ]
    for name, value in rows:
        print(f"{name:<26}{value}")
    if s["problems"]:
        print(f"problems: {s['problems']}")
    print("─" * 72)
