"""One benchmark run, in order: services, load generator, server, window, report; cleanup always follows."""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import multiprocessing as mp
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, cast

from bench.gateway.config import DB_NAME, LoadConfig
from bench.gateway.errors import BenchError
from bench.gateway.load import loadgen_main
from bench.gateway.processes import process_rss_mb
from bench.gateway.profile_table import print_server_profile
from bench.gateway.profiler import ProfileSpec, find_py_spy
from bench.gateway.report import report
from bench.gateway.server import Server, free_port, log_summary, metric_counts, server_env
from bench.gateway.services import check_redis, delete_redis_keys, load_demo, prepare_database


def run(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """One run: its exit status (0 fine, 1 requests failed) and its summary (the JSON line it printed)."""
    prefix = f"lt-bench-{uuid.uuid4().hex[:10]}:"
    token = f"bench-{secrets_hex(8)}"
    app_id = f"wx{secrets_hex(8)}"
    aes_key = base64.b64encode(os.urandom(32)).decode().rstrip("=")  # 43 characters
    workdir = Path(tempfile.mkdtemp(prefix="longtuan-bench-"))

    spec = ProfileSpec()
    if args.profile:
        py_spy = find_py_spy(args.py_spy) if args.profile in ("auto", "py-spy") else None
        if args.profile == "py-spy" and py_spy is None:
            raise BenchError("py-spy not found: `pip install py-spy` or pass --py-spy PATH")
        if py_spy is not None:
            spec = ProfileSpec("py-spy", py_spy, str(workdir / "profile.txt"))
        else:
            spec = ProfileSpec("cprofile", "", str(workdir / "profile.pstats"))

    server: Server | None = None
    loadgen: Any = None
    redis_used = False
    try:
        print(f"preparing database {DB_NAME} and Redis prefix {prefix} ...", file=sys.stderr)
        loadavg = Path("/proc/loadavg").read_text().split()[0]
        check_redis()
        url = prepare_database()
        if args.mix == "product" or args.texts:
            print(f"  {load_demo(url)}", file=sys.stderr)
        redis_used = True

        port = free_port()
        # One server process on one CPU and the load generator on another: left to the kernel, they
        # (and Redis, PostgreSQL) trade places between runs, and the server's CPU per request with
        # them (200-320 us for the same code). Redis and PostgreSQL share the load generator's CPU
        # or any other.
        cpus = sorted(os.sched_getaffinity(0))
        pins = (cpus[0], cpus[1]) if args.pin and args.workers == 1 and len(cpus) >= 2 else None
        cfg = LoadConfig(
            url=f"http://127.0.0.1:{port}/wechat",
            token=token,
            app_id=app_id,
            aes_key=aes_key,
            connections=args.connections,
            users=args.users,
            seconds=args.seconds,
            warmup=args.warmup,
            seed=args.seed if args.seed is not None else random.randrange(2**32),
            parent_pid=os.getpid(),
            client=args.client,
            mix=args.mix,
            texts=tuple(args.texts),
            cpu=pins[1] if pins else None,
        )
        ctx = mp.get_context("spawn")
        ours, theirs = ctx.Pipe()
        loadgen = ctx.Process(target=loadgen_main, args=(cfg, theirs), name="bench-loadgen", daemon=True)
        loadgen.start()  # makes the warm-up payloads while the server starts

        print(f"starting the server on 127.0.0.1:{port} ...", file=sys.stderr)
        server = Server(
            port,
            server_env(port, prefix, token, app_id, aes_key, spec),
            workdir / "server.log",
            spec,
            args.workers,
            cpu=pins[0] if pins else None,
        )
        server.wait_healthy()

        def receive(timeout: float) -> tuple[Any, ...]:
            deadline = time.monotonic() + timeout
            while not ours.poll(0.2):
                if not loadgen.is_alive():
                    raise BenchError(f"the load generator died (exit {loadgen.exitcode})")
                if server is not None and server.proc.poll() is not None:
                    raise BenchError(f"the server exited with {server.proc.returncode}:\n{server.log_tail()}")
                if time.monotonic() > deadline:
                    raise BenchError("the load generator did not answer in time")
            message = ours.recv()
            if message[0] == "error":
                raise BenchError(f"the load generator failed:\n{message[1]}")
            return cast(tuple[Any, ...], message)

        receive(120)  # "ready": the first payloads are made
        print(
            f"warm-up {args.warmup:g} s, then {args.seconds:g} s measured, {args.connections} connections ...",
            file=sys.stderr,
        )
        ours.send(("go", server.pid, spec))
        _, res = receive(args.warmup + args.seconds * 4 + 120)

        res["loadavg_before"] = loadavg
        rss = process_rss_mb(server.pid)
        metrics = server.get("/metrics")
        outcomes = metric_counts(metrics, "longtuan_requests_total", "outcome")
        routes = metric_counts(metrics, "longtuan_handler_seconds_count", "route")
        spent = metric_counts(metrics, "longtuan_handler_seconds_sum", "route")
        res["handler_ms"] = {r: spent.get(r, 0.0) / n * 1e3 for r, n in routes.items() if n}
        server.stop()
        log_events = log_summary(server.log_path)
        res["redis_keys_deleted"] = delete_redis_keys(prefix)
        redis_used = False
        if spec.mode == "py-spy" and res.get("profile_error"):
            print(f"py-spy failed: {res['profile_error']}", file=sys.stderr)

        summary = report(args, res, rss, outcomes, routes, log_events, spec.mode if spec.mode != "none" else "")
        if spec.mode != "none" and Path(spec.out).exists() and res["requests"]:
            print_server_profile(spec, summary["cpu_us_per_request"], int(res["requests"]), args.top)
        print(json.dumps(summary, ensure_ascii=False))
        return (1 if summary["errors"] else 0), summary
    finally:
        if loadgen is not None and loadgen.is_alive():
            loadgen.terminate()
            loadgen.join(5)
            if loadgen.is_alive():
                loadgen.kill()
        if server is not None:
            server.stop()
        if redis_used:  # an interrupted run: the normal path has cleaned up before its report
            with contextlib.suppress(Exception):
                deleted = delete_redis_keys(prefix)
                print(f"deleted {deleted:,} Redis keys under {prefix}", file=sys.stderr)
        if spec.mode == "none":
            shutil.rmtree(workdir, ignore_errors=True)


def secrets_hex(n: int) -> str:
    return os.urandom(n).hex()
