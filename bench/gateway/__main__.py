"""The command line of ``python -m bench.gateway``: flags, signals and the exit status."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Any

import bench.gateway
from bench.gateway.errors import BenchError
from bench.gateway.report import report_series
from bench.gateway.run import run


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    # The description is the first paragraph of the package's docstring, as before the split.
    doc = bench.gateway.__doc__
    p = argparse.ArgumentParser(prog="python -m bench.gateway", description=doc.split("\n\n")[0] if doc else "")
    p.add_argument("--seconds", type=float, default=10.0, help="measured window (default 10)")
    p.add_argument("--workers", type=int, default=1, help="server processes (longtuan serve --workers; default 1)")
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up, not measured (default 2)")
    p.add_argument("--connections", type=int, default=64, help="concurrent keep-alive connections (default 64)")
    p.add_argument("--users", type=int, default=5000, help="distinct openids (default 5000)")
    p.add_argument(
        "--client",
        choices=["raw", "aiohttp"],
        default="raw",
        help="pre-rendered HTTP/1.1 on asyncio streams (default; about 35 µs of client CPU a request) "
        "or aiohttp's ClientSession (about 170)",
    )
    p.add_argument("--seed", type=int, default=None, help="payload mix seed (default random)")
    p.add_argument(
        "--mix",
        choices=["product", "gateway"],
        default="product",
        help="product: what young people write, about half of it reaching PostgreSQL (default); "
        "gateway: FAQ, help and small talk only, the gateway's own cost",
    )
    p.add_argument(
        "--text",
        dest="texts",
        action="append",
        default=[],
        metavar="TEXT",
        help="send only this text (repeat for several, equal weights) instead of a mix: one route's cost",
    )
    p.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="do not pin the server (one process) and the load generator to a CPU each",
    )
    p.add_argument(
        "--runs",
        type=int,
        default=None,
        help="whole runs in a row, each with a fresh server; with more than one the last line holds the medians "
        "(default 3, 1 with --profile: one run on a shared VM can be 40 %% off the next)",
    )
    p.add_argument(
        "--profile",
        nargs="?",
        const="auto",
        choices=["auto", "py-spy", "cprofile"],
        help="profile the server during the window: py-spy if available (auto), or cProfile",
    )
    p.add_argument("--py-spy", dest="py_spy", help="path of the py-spy binary (default: PATH, the venv)")
    p.add_argument("--top", type=int, default=25, help="functions shown in the profile (default 25)")
    args = p.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.profile else 3
    if args.seconds <= 0 or args.warmup < 0 or args.connections < 1 or args.users < 1 or args.runs < 1:
        p.error("--seconds must be > 0, --warmup >= 0, --connections, --users and --runs >= 1")
    return args


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    # Ctrl-C stops the run cleanly even where SIGINT came in ignored (a job started with "&").
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGHUP, _on_term)
    try:
        code, summaries = 0, list[dict[str, Any]]()
        for _ in range(args.runs):
            status, summary = run(args)
            code, summaries = max(code, status), [*summaries, summary]
        if args.runs > 1:
            print(json.dumps(report_series(summaries), ensure_ascii=False))
    except BenchError as exc:
        print(f"bench.gateway: {exc}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("bench.gateway: interrupted; server stopped, Redis keys deleted", file=sys.stderr)
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
