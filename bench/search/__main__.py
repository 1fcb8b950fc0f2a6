"""The command line of ``python -m bench.search``: fill the bench database once, time the queries."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import random
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime

from sqlalchemy import text

from bench.gateway.errors import BenchError
from bench.gateway.services import prepare_database
from bench.search.generate import generate
from bot.content import load_content
from bot.db import Database
from bot.db.internships import posts as post_queries
from bot.internships.demo import shift_to
from bot.internships.importer import read_posts, title_vector_of, vector_of
from bot.internships.records import Post
from bot.internships.search import Searcher
from bot.services import load_analyzer
from bot.text import Analyzer

DB_NAME = "longtuan_bench_search"
#: What people type, in the shapes the judged set and the issue show.
QUERIES = (
    "设计", "财务", "坂田 有没有 数据分析 的实习", "港澳台专场 设计", "寒假 会计实习", "寒假 會計實習",
    "我学护理的 有没有实习", "新媒体运营", "python", "前端开发", "美工", "软件开发实习", "龙城 新媒体",
    "带薪 暑假 开发", "法律", "社工", "电商运营", "短视频", "物流", "新能源", "宝龙 生物医药", "英语助教",
    "翻译", "人力资源实习", "嵌入式", "硬件工程师", "软件测试", "机器学习", "产品经理", "市场营销", "品牌推广",
    "室内设计", "建筑设计", "教育 实习", "银行", "平湖 物流", "坂田 电子", "学期中 兼职", "长期实习 数据",
    "港澳台", "香港学生 实习", "编程", "程序员", "视觉设计", "客服", "外贸", "采购", "活动策划", "摄影",
    "会展", "文案", "医学检验", "实习", "有什么实习岗位", "暑假有实习吗", "布吉 运营", "横岗 社工 寒假",
    "坪地 新能源 长期", "南湾 设计 带薪", "吉华 java", "园山 数据分析", "龍崗 設計 實習", "无人机",
)  # fmt: skip
#: Bumped when the generator changes, so an old bench database is refilled.
GENERATION = "2"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.search", description=(__doc__ or "").strip())
    p.add_argument("--posts", type=int, default=100_000, help="generated posts (default 100,000)")
    p.add_argument("--queries", type=int, default=3000, help="timed searches (default 3,000)")
    p.add_argument("--warmup", type=int, default=300, help="searches before timing (default 300)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--refill", action="store_true", help="generate the posts again even if they are there")
    return p.parse_args(argv)


async def _fill(db: Database, analyzer: Analyzer, demo: list[Post], count: int, seed: int, refill: bool) -> float:
    """Generate and COPY the posts unless the database holds this generation already; returns seconds."""
    marker = f"{GENERATION}:{count}:{seed}"
    async with db.session() as s:
        have = await post_queries.post_count(s)
        raw = await s.connection()
        comment = (await raw.exec_driver_sql("SELECT obj_description('internship_posts'::regclass)")).scalar()
    if have == count and comment == marker and not refill:
        return 0.0
    started = time.perf_counter()
    today = date.today()
    now = datetime.now(UTC).isoformat()
    buf = io.StringIO()
    out = csv.writer(buf)
    for i, post in enumerate(generate(demo, count, today, seed), start=1):
        out.writerow([
            post.post_id, post.title, post.company, post.street, post.industry, post.majors, post.description,
            post.positions, post.pay, post.pay_kind, post.paid, post.hmt_round, post.season, post.start_date,
            post.deadline, post.status, post.contact_email, vector_of(analyzer, post), title_vector_of(analyzer, post),
            post.digest, now, now,
        ])  # fmt: skip
        if i % 10_000 == 0:
            print(f"  generated and indexed {i:,} posts ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    columns = [
        "post_id", "title", "company", "street", "industry", "majors", "description", "positions", "pay",
        "pay_kind", "paid", "hmt_round", "season", "start_date", "deadline", "status", "contact_email", "search",
        "title_terms", "digest", "created_at", "updated_at",
    ]  # fmt: skip
    async with db.engine.connect() as conn:
        raw_conn = await conn.get_raw_connection()
        driver = raw_conn.driver_connection  # asyncpg: COPY is its own protocol
        assert driver is not None
        await driver.execute("TRUNCATE internship_posts RESTART IDENTITY CASCADE", timeout=60)
        data = io.BytesIO(buf.getvalue().encode())
        await driver.copy_to_table("internship_posts", source=data, columns=columns, format="csv", timeout=900)
        await driver.execute(f"COMMENT ON TABLE internship_posts IS '{marker}'")
        await driver.execute("VACUUM ANALYZE internship_posts", timeout=900)
    return time.perf_counter() - started


async def _run(args: argparse.Namespace, url: str) -> dict[str, object]:
    content = load_content()
    analyzer = load_analyzer(content)
    demo = shift_to(read_posts(content.dict_path.parent / "demo" / "internships.csv", content.streets), date.today())  # type: ignore[union-attr]
    db = Database.from_url(url)
    try:
        filled = await _fill(db, analyzer, demo, args.posts, args.seed, args.refill)
        searcher = Searcher(analyzer, content)
        today = date.today()
        rng = random.Random(args.seed)
        plan = [rng.choice(QUERIES) for _ in range(args.warmup + args.queries)]
        timings: list[float] = []
        by_query: dict[str, list[float]] = {}
        totals: dict[str, int] = {}
        for n, said in enumerate(plan):
            started = time.perf_counter()
            async with db.session() as s:
                result = await searcher.find(s, said, today)  # with the first page's rows
            took = (time.perf_counter() - started) * 1000
            if n >= args.warmup:
                timings.append(took)
                by_query.setdefault(said, []).append(took)
                totals[said] = result.found.total
        # The floor under these figures on this machine: one empty statement in a transaction.
        floor: list[float] = []
        for _ in range(500):
            started = time.perf_counter()
            async with db.session() as s:
                await s.execute(text("SELECT 1"))
            floor.append((time.perf_counter() - started) * 1000)
    finally:
        await db.close()
    timings.sort()
    floor.sort()

    def pct(p: float) -> float:
        return timings[min(len(timings) - 1, round(p / 100 * len(timings)) - 1)]

    print(f"{'query':<24} {'matches':>8} {'runs':>5} {'p50 ms':>8} {'max ms':>8}")
    for said, runs in sorted(by_query.items(), key=lambda kv: -statistics.median(kv[1]))[:25]:
        print(f"{said:<24} {totals[said]:>8,} {len(runs):>5} {statistics.median(runs):>8.2f} {max(runs):>8.2f}")
    figures = {
        "posts": args.posts,
        "queries": len(timings),
        "distinct_queries": len(by_query),
        "p50_ms": round(pct(50), 2),
        "p90_ms": round(pct(90), 2),
        "p99_ms": round(pct(99), 2),
        "max_ms": round(timings[-1], 2),
        "fill_s": round(filled, 1),
        "select1_p50_ms": round(floor[len(floor) // 2], 2),
        "select1_p99_ms": round(floor[int(len(floor) * 0.99) - 1], 2),
    }
    print(f"\n{args.posts:,} posts, {len(timings):,} searches: p50 {figures['p50_ms']} ms, "
          f"p90 {figures['p90_ms']} ms, p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms; "
          f"SELECT 1 alone: p50 {figures['select1_p50_ms']} ms, p99 {figures['select1_p99_ms']} ms")  # fmt: skip
    return figures


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        # Blocking, before the loop: it runs its own loop and Alembic's.
        url = prepare_database(DB_NAME)
        figures = asyncio.run(_run(args, url))
    except BenchError as exc:
        print(f"bench.search: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
