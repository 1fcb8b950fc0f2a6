"""The command line of ``python -m bench.campaign``: flags, the table, the JSON last line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

import bench.campaign
from bench.campaign.run import Figures, run
from bench.campaign.seed import Audience
from bench.gateway.errors import BenchError


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    doc = bench.campaign.__doc__ or ""
    p = argparse.ArgumentParser(prog="python -m bench.campaign", description=doc.split("\n\n")[0])
    p.add_argument("--followers", type=int, default=260_000)
    p.add_argument("--window-share", type=float, default=0.05, help="share inside the 48-hour window (default 0.05)")
    p.add_argument("--left-share", type=float, default=0.03, help="share who unfollowed (default 0.03)")
    p.add_argument("--rate", type=float, default=200.0, help="allowed API calls a second, all workers (default 200)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--lanes", type=int, default=2, help="claims in flight per worker (default 2)")
    return p.parse_args(argv)


def table(f: Figures) -> str:
    rows = [
        ("recipients", f"{f.recipients:,}", ""),
        ("plan", f"{f.plan_s:.2f} s", "≤ 10 s"),
        ("ways", ", ".join(f"{k} {v:,}" for k, v in sorted(f.ways.items())), ""),
        ("cannot be reached", ", ".join(f"{k} {v:,}" for k, v in sorted(f.unreachable.items())), ""),
        ("send calls", f"{f.calls:,} in {f.send_s:.1f} s", ""),
        ("sustained rate", f"{f.sustained:.1f}/s of {f.rate:g}/s = {f.rate_ratio:.1%}", "≥ 98 %"),
        ("quota errors", str(f.quota_errors), "0"),
        ("other errors", str(f.other_errors), ""),
        ("lost", str(f.lost), "0"),
        ("sent twice", str(f.twice), ""),
        ("outcome", ", ".join(f"{k} {v:,}" for k, v in sorted(f.outcome.items())), ""),
        ("worker RSS (peak)", f"{f.rss_mb:.0f} MB", "≤ 200 MB"),
    ]
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{name:<{width}}  {value:<48} {target}" for name, value, target in rows)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    audience = Audience(args.followers, args.window_share, args.left_share)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        figures = asyncio.run(run(audience, args.rate, args.workers, args.lanes, log))
    except BenchError as exc:
        print(f"bench.campaign: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(table(figures))
    print(json.dumps(figures.json(), ensure_ascii=False))


if __name__ == "__main__":
    main()
