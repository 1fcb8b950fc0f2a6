"""The command line of ``python -m bench.signups``: flags, the runs, the last JSON line, the exit status."""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
from collections.abc import Sequence
from types import FrameType

from bench.gateway.errors import BenchError
from bench.signups.run import run


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.signups", description="1,000 signups for 30 seats at once")
    p.add_argument("--users", type=int, default=1000, help="people signing up at the same moment (default 1000)")
    p.add_argument("--seats", type=int, default=30, help="seats of the class (default 30)")
    p.add_argument("--workers", type=int, default=1, help="server processes (longtuan serve --workers; default 1)")
    p.add_argument(
        "--baseline",
        action="store_true",
        help="the same burst of 「帮助」 instead (no database): what the machine and the gateway take by themselves",
    )
    p.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile the server: print its top N functions")
    p.add_argument("--runs", type=int, default=1, help="whole runs, each on a fresh database and server (default 1)")
    args = p.parse_args(argv)
    if args.users < 1 or not 1 <= args.seats <= args.users or args.runs < 1 or args.workers < 1:
        p.error("--users >= 1, 1 <= --seats <= --users, --runs and --workers >= 1")
    return args


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_term)
    try:
        code, summaries = 0, []
        for _ in range(args.runs):
            status, summary = run(args)
            code = max(code, status)
            summaries.append(summary)
            print(json.dumps(summary, ensure_ascii=False))
        if args.runs > 1:
            medians = {key: statistics.median(s[key] for s in summaries) for key in ("max_ms", "p99_ms", "p50_ms")}
            last = {
                **summaries[-1],
                **medians,
                "runs": args.runs,
                "max_ms_range": [min(s["max_ms"] for s in summaries), max(s["max_ms"] for s in summaries)],
                "targets_met": all(s["targets_met"] for s in summaries),
            }
            print(json.dumps(last, ensure_ascii=False))
    except BenchError as exc:
        print(f"bench.signups: {exc}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("bench.signups: interrupted; server stopped, Redis keys deleted", file=sys.stderr)
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
