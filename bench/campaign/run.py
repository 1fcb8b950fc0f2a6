"""One benchmark run: seed, plan (timed), send with worker processes against the fake, account for everyone."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr
from sqlalchemy import text

from bench.campaign.seed import DATABASE_URL, Audience, fresh_database, seed
from bench.gateway.errors import BenchError
from bench.gateway.processes import process_rss_mb
from bench.gateway.services import check_redis, delete_redis_keys
from bot.db import Database
from bot.db.delivery import campaigns as cq
from bot.outbox.campaigns import Campaigns, bulk_database
from bot.outbox.errors import QUOTA
from bot.settings import Settings
from tests.delivery import processes
from tests.fakes.wechat_api import FakeWeChatAPI

APP_ID = "wx-bench-campaign"
SECRET = "bench-campaign-secret"
REDIS_URL = "redis://127.0.0.1:6379/0"
SEND_PATHS = ("/cgi-bin/message/custom/send", "/cgi-bin/message/mass/send")


@dataclass(slots=True)
class Figures:
    recipients: int = 0
    plan_s: float = 0.0
    ways: dict[str, int] = field(default_factory=dict)
    unreachable: dict[str, int] = field(default_factory=dict)
    calls: int = 0
    send_s: float = 0.0
    rate: float = 0.0
    sustained: float = 0.0
    rate_ratio: float = 0.0
    quota_errors: int = 0
    other_errors: int = 0
    lost: int = 0
    twice: int = 0
    rss_mb: float = 0.0
    outcome: dict[str, int] = field(default_factory=dict)
    refusals: dict[str, int] = field(default_factory=dict)
    #: Calls a second, in 5-second steps from the first call.
    timeline: list[float] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        return {
            "recipients": self.recipients,
            "plan_s": round(self.plan_s, 2),
            "rate_ratio": round(self.rate_ratio, 4),
            "quota_errors": self.quota_errors,
            "lost": self.lost,
            "rss_mb": round(self.rss_mb, 1),
            "rate": self.rate,
            "sustained_per_s": round(self.sustained, 1),
            "calls": self.calls,
            "send_s": round(self.send_s, 1),
            "twice": self.twice,
            "ways": self.ways,
            "unreachable": self.unreachable,
            "outcome": self.outcome,
            "refusals": self.refusals,
        }


class TimedFake(FakeWeChatAPI):
    """The fake platform, noting when each send call was accepted (the sustained rate is measured here)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.accepted: list[float] = []

    def _pace(self, path: str) -> None:
        super()._pace(path)
        if path in SEND_PATHS:
            self.accepted.append(time.monotonic())


async def run(audience: Audience, rate: float, workers: int, lanes: int, log: Any) -> Figures:
    check_redis()
    figures = Figures(rate=rate)
    await fresh_database()
    now = time.time()
    in_window = await seed(audience, now)
    log(f"seeded {audience.followers:,} followers, {len(in_window):,} inside the 48-hour window")

    fake = TimedFake(APP_ID, SECRET)
    fake.rate_limit = rate
    base = await fake.start()
    for openid, seen in in_window:
        fake.interact(openid, at=seen)
    prefix = f"lt-bench-campaign-{uuid.uuid4().hex[:8]}:"
    settings = Settings(
        wechat_app_id=APP_ID,
        wechat_app_secret=SecretStr(SECRET),
        wechat_api_base=base,
        database_url=DATABASE_URL,
        redis_url=REDIS_URL,
        redis_prefix=prefix,
        outbox_rate=rate,
        outbox_poll=0.2,
        log_level="INFO",
    )
    db = bulk_database(DATABASE_URL)
    procs: list[asyncio.subprocess.Process] = []
    try:
        campaigns = Campaigns(settings, db)
        cid = await campaigns.create(
            name="龙团冬季活动", by="bench", audience={"source": "all"}, text="龙岗青年冬季活动开始报名啦"
        )
        started = time.perf_counter()
        plan = await campaigns.plan(cid, by="bench")
        figures.plan_s = time.perf_counter() - started
        figures.recipients, figures.ways, figures.unreachable = plan["recipients"], plan["ways"], plan["unreachable"]
        log(f"planned in {figures.plan_s:.2f} s: {plan['ways']} unreachable {plan['unreachable']}")
        await campaigns.approve(cid, by="bench")
        await campaigns.approve(cid, by="bench-2")
        # The workers are up before the campaign starts: their start-up is not the engine's rate.
        for _ in range(workers):
            procs.append(await processes.start(settings, "bot.cli", "worker", "--lanes", str(lanes)))
        for proc in procs:
            await _started(proc)
        drains = [asyncio.create_task(_drain(proc)) for proc in procs]  # a full pipe would stop a worker
        lags: list[float] = []
        drains.append(asyncio.create_task(_loop_lag(lags)))
        # The fake platform keeps a record per recipient (a quarter of a million lists): the cyclic
        # GC walking them stalled its loop for 300-500 ms during the mass sends, a stall of the
        # instrument, not of the engine. It creates no garbage cycles worth collecting.
        gc.freeze()
        gc.disable()
        await campaigns.send(cid, by="bench")
        figures.rss_mb = await _until_done(db, cid, procs, log)
        gc.enable()
        for task in drains:
            task.cancel()
        figures.quota_errors = sum(n for code, n in fake.errors.items() if code in QUOTA)
        log(f"platform refusals by errcode: {dict(fake.errors)}")
        figures.refusals = {str(k): v for k, v in fake.errors.items()}
        figures.other_errors = sum(n for code, n in fake.errors.items() if code not in QUOTA)
        _rate(figures, fake.accepted, rate)
        by5 = [max(lags[i : i + 100], default=0.0) * 1000 for i in range(0, len(lags), 100)]
        log("the fake's event-loop lag, worst ms by ~5 s: " + " ".join(f"{x:.0f}" for x in by5))
        log("calls a second, by 5 s: " + " ".join(f"{r:.0f}" for r in figures.timeline))
        await _account(db, cid, fake, figures)
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                await processes.stop(proc, 20)
        await db.close()
        await fake.close()
        delete_redis_keys(prefix)
    return figures


async def _started(proc: asyncio.subprocess.Process) -> None:
    assert proc.stderr is not None
    async with asyncio.timeout(60):
        while line := await proc.stderr.readline():
            if b'"worker started"' in line:
                return
    raise BenchError(f"a worker did not start (exit {proc.returncode})")


async def _loop_lag(lags: list[float]) -> None:
    """How late this process's loop (the fake platform's) wakes from a 50 ms sleep."""
    while True:
        started = time.monotonic()
        await asyncio.sleep(0.05)
        lags.append(time.monotonic() - started - 0.05)


async def _drain(proc: asyncio.subprocess.Process) -> None:
    assert proc.stderr is not None
    while await proc.stderr.readline():
        pass


async def _until_done(db: Database, cid: int, procs: list[asyncio.subprocess.Process], log: Any) -> float:
    """Wait until nothing of the campaign is due; returns the workers' peak RSS (MB, the larger one)."""
    peak = 0.0
    last_report = time.monotonic()
    while True:
        for proc in procs:
            if proc.returncode is not None:
                raise BenchError(f"a worker exited with {proc.returncode}")
            peak = max(peak, process_rss_mb(proc.pid))
        async with db.session() as s:
            now = await cq.progress(s, cid)
        left = now.get("pending", 0) + now.get("held", 0)
        if not left:
            return peak
        if time.monotonic() - last_report > 10:
            log(f"  {left:,} still due")
            last_report = time.monotonic()
        await asyncio.sleep(0.5)


def _rate(figures: Figures, accepted: list[float], rate: float) -> None:
    """The sustained rate: the calls after the first, over the time from the first to the last.

    The limiter spaces calls evenly (GCRA), so N calls at exactly the allowed rate span (N - 1) / rate
    seconds: start-up, the last claims and any retry all count against the figure.
    """
    figures.calls = len(accepted)
    if len(accepted) <= rate:
        raise BenchError(f"only {len(accepted)} calls: too few to measure a rate of {rate}/s")
    span = accepted[-1] - accepted[0]
    buckets: dict[int, int] = {}
    for at in accepted:
        buckets[int((at - accepted[0]) // 5)] = buckets.get(int((at - accepted[0]) // 5), 0) + 1
    figures.timeline = [buckets.get(i, 0) / 5 for i in range(max(buckets) + 1)]
    figures.send_s = span
    figures.sustained = (len(accepted) - 1) / span
    figures.rate_ratio = figures.sustained / rate


async def _account(db: Database, cid: int, fake: FakeWeChatAPI, figures: Figures) -> None:
    """Every recipient is sent (and received by the fake), waiting, or dropped with a reason."""
    async with db.session() as s:
        rows = (
            await s.execute(
                text("""
                SELECT u.external_id, o.status, o.last_error FROM outbox o JOIN users u ON u.id = o.user_id
                WHERE o.campaign_id = :c
                UNION ALL
                SELECT u.external_id, b.status, b.last_error
                FROM outbox_batches b CROSS JOIN unnest(b.members) AS m JOIN users u ON u.id = m
                WHERE b.campaign_id = :c AND b.status <> 'waiting'
                """),
                {"c": cid},
            )
        ).all()
    outcome: dict[str, int] = {}
    lost = twice = 0
    for openid, status, reason in rows:
        outcome[status] = outcome.get(status, 0) + 1
        got = len(fake.received.get(openid, []))
        if status == "sent":
            lost += got == 0
            twice += max(0, got - 1)
        elif status in ("waiting", "dropped"):
            lost += not reason  # waiting or dropped without a reason is not accounted for
        else:
            lost += 1
    figures.lost = lost + (figures.recipients - len(rows))
    figures.twice = twice
    figures.outcome = outcome
