"""The delivery engine: claims due rows, plans and sends each within WeChat's rules, records the result.

One ``Engine`` per worker process. ``run_once`` handles one claim of single notices (and the
rows of campaigns that go one by one), ``run_batch_once`` one mass-send call; both hold their
claim's row locks until the results are written (``bot.db.delivery.outbox`` says why).
Every send waits for the shared limiter first, so all workers together keep to the rate.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text as sql

from bot.channels.wechat.api import WeChatAPI, WeChatAPIError
from bot.db import Database
from bot.db.delivery import batches as batch_q
from bot.db.delivery import outbox as q
from bot.outbox import errors
from bot.outbox.limiter import Pacer
from bot.outbox.metrics import DeliveryMetrics
from bot.outbox.planner import Decision, Facts, Rules, choose
from bot.outbox.purposes import Purpose
from bot.outbox.shared import Shared
from bot.settings import Settings

log = logging.getLogger("longtuan.outbox")

#: A row re-planned after a refusal is tried by its next way at once; this many ways at most.
MAX_REPLANS = 3


@dataclass(slots=True)
class Campaigned:
    """What a campaign's rows carry: its text, or its template and fields."""

    text: str
    purpose: Purpose | None


class Engine:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        api: WeChatAPI,
        limiter: Pacer,
        shared: Shared,
        purposes: dict[str, Purpose],
        metrics: DeliveryMetrics,
        *,
        clock: Callable[[], float] = time.time,
        senders: int = 16,
    ) -> None:
        self.settings = settings
        self.db = db
        self.api = api
        self.limiter = limiter
        self.shared = shared
        self.purposes = purposes
        self.metrics = metrics
        self.clock = clock
        self.rules = Rules(settings.outbox_cs_window, settings.outbox_cs_allowance)
        self._senders = asyncio.Semaphore(senders)
        self._campaigns: dict[int, Campaigned] = {}

    # -- paused ways (45009) --------------------------------------------------------------------

    async def paused(self) -> dict[str, float]:
        return await self.shared.paused(("template", "subscribe"))

    async def pause(self, way: str, now: float) -> float:
        """Pause ``way`` for the whole account until the next local midnight (the quota's reset)."""
        tz = ZoneInfo(self.settings.timezone)
        local = datetime.fromtimestamp(now, tz)
        until = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tz).timestamp()
        # A relative expiry: the engine's clock is the one the pause is read against.
        await self.shared.pause(way, until, max(60, int(until - now) + 1))
        log.warning("way paused until the next day: daily quota reached", extra={"way": way, "until": until})
        return until

    async def _take_template_quota(self, now: float) -> bool:
        """Count one template send against today's account quota (shared by all workers).

        The platform's 45009 would tell too, but only after the fact and once per sender in flight;
        counting first keeps a campaign at zero quota errors. A failed call's unit is not given back
        (on the safe side).
        """
        day = datetime.fromtimestamp(now, ZoneInfo(self.settings.timezone)).date().isoformat()
        used = await self.shared.count(f"quota:template:{day}", 2 * 86400)
        return used <= self.settings.outbox_template_daily

    # -- single notices ---------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim due rows, send them, write what became of them; returns how many were claimed."""
        now = self.clock()
        async with self.db.session() as s:
            rows = await q.claim(s, now, self.settings.outbox_claim)
            if not rows:
                return 0
            await self._durable()
            for row in rows:
                self.metrics.lag.observe(max(0.0, now - row.due_at))
            paused = await self.paused()
            await self._load_campaigns(s, {r.campaign_id for r in rows if r.campaign_id is not None})
            consents = await self._consents(s, rows)
            sent_now: collections.Counter[int] = collections.Counter()
            results = await asyncio.gather(*(self._one(r, paused, consents, sent_now) for r in rows))
            await q.apply(s, results, self.clock())
            gone = [r.user_id for r, res in zip(rows, results, strict=True) if res.last_error == "not_follower"]
            await q.mark_unsubscribed(s, gone, self.clock())
            for row, res in zip(rows, results, strict=True):
                purpose = self._purpose_of(row)
                if purpose is None or purpose.way != "subscribe":
                    continue
                if res.status == "sent" and res.way == "subscribe":
                    await q.use_consent(s, row.user_id, purpose.template_id, self.clock())
                elif ("subscribe", "refused", 43101) in [line[:3] for line in res.lines]:
                    await q.grant_consent(s, row.user_id, purpose.template_id, False, self.clock())
        return len(rows)

    async def _durable(self) -> None:
        """Every commit that is visible now is on disk before anything claimed goes out.

        A seat change commits asynchronously (``bot.db.courses.signups.lock_class``) and queues
        its notice in that transaction: a row can be claimed before its commit reaches the disk,
        and a database crash in between would undo the change after its notice went out. One
        transaction of ours with an xid commits synchronously, which flushes the log up to it.
        """
        async with self.db.session() as s:
            await q.durable(s)

    async def _load_campaigns(self, s: Any, ids: set[int]) -> None:
        missing = [i for i in ids if i not in self._campaigns]
        if not missing:
            return
        rows = await s.execute(sql("SELECT id, content FROM campaigns WHERE id = ANY(:ids)"), {"ids": missing})
        for cid, content in rows:
            purpose = None
            if content.get("template_id"):
                purpose = Purpose(
                    f"campaign:{cid}", "template", content["template_id"], dict(content.get("fields", {}))
                )
            self._campaigns[cid] = Campaigned(str(content.get("text", "")), purpose)

    def _purpose_of(self, row: q.Claimed) -> Purpose | None:
        if row.campaign_id is not None:
            return self._campaigns[row.campaign_id].purpose
        return self.purposes.get(row.purpose)

    async def _consents(self, s: Any, rows: list[q.Claimed]) -> dict[tuple[int, str], int]:
        found: dict[tuple[int, str], int] = {}
        by_template: dict[str, list[int]] = collections.defaultdict(list)
        for row in rows:
            purpose = self._purpose_of(row)
            if purpose is not None and purpose.way == "subscribe":
                by_template[purpose.template_id].append(row.user_id)
        for template_id, users in by_template.items():
            for user_id, n in (await q.consents(s, users, template_id)).items():
                found[(user_id, template_id)] = n
        return found

    async def _one(
        self,
        row: q.Claimed,
        paused: dict[str, float],
        consents: dict[tuple[int, str], int],
        sent_now: collections.Counter[int],
    ) -> q.Result:
        purpose = self._purpose_of(row)
        text = self._text(row)
        # A template campaign has no text: a customer-service message would have nothing to say.
        excluded: set[str] = set() if text else {"custom"}
        lines: list[tuple[str, str, int, str]] = []
        for _ in range(MAX_REPLANS):
            now = self.clock()
            facts = Facts(
                row.subscribed,
                row.last_seen,
                row.custom_sent + sent_now[row.user_id],
                consents.get((row.user_id, purpose.template_id), 0) if purpose else 0,
            )
            decision = choose(facts, purpose, now, self.rules, excluded=frozenset(excluded), paused=paused)
            if decision.action != "send":
                return self._not_now(row, decision, now, lines)
            if decision.way == "custom":
                sent_now[row.user_id] += 1  # counted before the call: a second row of theirs sees it
            elif decision.way == "template" and not await self._take_template_quota(now):
                paused["template"] = await self.pause("template", now)
                continue
            try:
                msg_id = await self._send(decision.way, row.openid, text, purpose, row)
            except WeChatAPIError as exc:
                if decision.way == "custom":
                    sent_now[row.user_id] -= 1
                self.metrics.failed.labels(decision.way, str(exc.errcode)).inc()
                lines.append((decision.way, "refused", exc.errcode, exc.errmsg[:120]))
                code = exc.errcode
                if code in errors.REPLAN:
                    excluded.add(errors.REPLAN[code])
                    if code == 43101 and purpose is not None:
                        consents[(row.user_id, purpose.template_id)] = 0
                    continue
                if code == errors.DAILY_QUOTA:
                    paused[decision.way] = await self.pause(decision.way, now)
                    continue
                return self._refused(row, decision.way, code, now, lines)
            self.metrics.sent.labels(decision.way).inc()
            lines.append((decision.way, "sent", 0, ""))
            return q.Result(row.id, "sent", decision.way, now, msg_id=msg_id or None, lines=lines)
        return q.Result(row.id, "waiting", "none", self.clock(), "no_way_left", lines=lines)

    def _text(self, row: q.Claimed) -> str:
        if row.campaign_id is not None:
            return self._campaigns[row.campaign_id].text
        return str((row.payload or {}).get("text", ""))

    async def _send(self, way: str, openid: str, text: str, purpose: Purpose | None, row: q.Claimed) -> str:
        async with self._senders:
            await self.limiter.acquire("api")
            if way == "custom":
                if not text:
                    raise WeChatAPIError(44004, "empty content")
                await self.api.send_custom_text(openid, text)
                return ""
            assert purpose is not None
            fields = (row.payload or {}).get("fields", {}) if row.campaign_id is None else {}
            data = purpose.data(fields, text) if row.campaign_id is None else dict(purpose.fields)
            if way == "template":
                return await self.api.send_template(openid, purpose.template_id, data, url=purpose.url)
            await self.api.send_subscribe(openid, purpose.template_id, data)
            return ""

    def _not_now(
        self, row: q.Claimed, decision: Decision, now: float, lines: list[tuple[str, str, int, str]]
    ) -> q.Result:
        if decision.action == "drop":
            return q.Result(row.id, "dropped", "none", now, decision.reason, lines=lines, tried=bool(lines))
        if decision.action == "later":
            return q.Result(
                row.id, "pending", decision.way, decision.at, decision.reason, lines=lines, tried=bool(lines)
            )
        if now - row.created_at >= self.settings.outbox_wait:
            return q.Result(
                row.id, "dropped", "none", now, f"expired: {decision.reason}", lines=lines, tried=bool(lines)
            )
        return q.Result(row.id, "waiting", "none", now, decision.reason, lines=lines, tried=bool(lines))

    def _refused(
        self, row: q.Claimed, way: str, code: int, now: float, lines: list[tuple[str, str, int, str]]
    ) -> q.Result:
        if code in errors.RETRY and row.attempts + 1 < self.settings.outbox_max_attempts:
            return q.Result(row.id, "pending", way, now + self.backoff(row.attempts), f"errcode {code}", lines=lines)
        if code == errors.NOT_FOLLOWER:
            return q.Result(row.id, "dropped", way, now, "not_follower", lines=lines)
        if code == errors.BAD_TEMPLATE:
            log.error("template refused as invalid: check the purpose configuration", extra={"purpose": row.purpose})
        return q.Result(row.id, "dropped", way, now, f"errcode {code}", lines=lines)

    def backoff(self, attempts: int) -> float:
        """Doubling from the base, with full jitter between half and the whole (no thundering retry)."""
        delay = self.settings.outbox_retry_base * 2 ** min(attempts, 10)
        return float(delay * (0.5 + random.random() / 2))

    # -- mass sends -------------------------------------------------------------------------------

    async def run_batch_once(self) -> int:
        """Claim one due mass-send batch and make its call; returns the recipients it covered."""
        now = self.clock()
        async with self.db.session() as s:
            batch = await batch_q.claim_batch(s, now)
            if batch is None:
                return 0
            settle = batch_q.settle_batch
            if len(batch.recipients) < 2:
                # The platform takes 2 openids at least: the one left waits for a window of their own.
                await settle(s, batch, now, status="waiting", error="mass_needs_two", outcome="replan")
                return len(batch.recipients)
            await self.limiter.acquire("mass", "api")
            openids = [o for _, o in batch.recipients]
            try:
                msg_id = await self.api.mass_send_text(openids, batch.text, batch.clientmsgid)
            except WeChatAPIError as exc:
                self.metrics.failed.labels("mass", str(exc.errcode)).inc()
                await self._mass_refused(s, batch, exc, self.clock())
                return len(batch.recipients)
            self.metrics.sent.labels("mass").inc(len(openids))
            await settle(s, batch, self.clock(), status="sent", msg_id=msg_id or None, outcome="sent")
            return len(batch.recipients)

    async def _mass_refused(self, s: Any, batch: batch_q.ClaimedBatch, exc: WeChatAPIError, now: float) -> None:
        code, settle = exc.errcode, batch_q.settle_batch
        if code == errors.CLIENTMSGID_USED:
            # The same call went through before (its commit was lost to a crash): it is sent.
            self.metrics.sent.labels("mass").inc(len(batch.recipients))
            await settle(s, batch, now, status="sent", errcode=code, outcome="sent")
        elif code in errors.RETRY and batch.attempts + 1 < self.settings.outbox_max_attempts:
            retry = now + self.backoff(batch.attempts)
            await settle(
                s, batch, now, status="pending", error=f"errcode {code}", errcode=code, retry_at=retry, outcome="retry"
            )
        elif code == errors.NO_MASS_QUOTA:
            await settle(s, batch, now, status="waiting", error="mass_quota", errcode=code, outcome="replan")
        else:
            await settle(s, batch, now, status="dropped", error=f"errcode {code}", errcode=code, outcome="dropped")

    # -- housekeeping -----------------------------------------------------------------------------

    async def wake(self) -> tuple[int, int]:
        """Waiting rows whose user interacted become due; those waiting too long are dropped."""
        async with self.db.session() as s:
            return await q.wake_waiting(s, self.clock(), self.settings.outbox_wait)
