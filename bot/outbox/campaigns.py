"""Campaigns: draft → planned → approved → sending → done, or cancelled; every step audited.

Each step is one transaction that locks the campaign row (``FOR UPDATE``), so two cadres
approving or starting at once cannot both pass a check. Up to ``LONGTUAN_CAMPAIGN_TWO_PERSON``
recipients one approval starts it (the maker's own will do); above it a second cadre, not the
one who made it, must approve. The approvals' primary key (campaign, cadre) makes one person's
second approval a no-op, never a second vote.
A campaign scheduled for later is started by the scheduler's ``campaigns.start_due`` job: the
schedule lives in the database and survives restarts of every process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import create_async_engine

from bot.db import Database
from bot.db.delivery import campaigns as q
from bot.db.delivery.outbox import sent_since
from bot.errors import LongtuanError
from bot.outbox import audiences
from bot.outbox.metrics import day_start
from bot.settings import Settings


def bulk_database(url: str) -> Database:
    """A database handle for campaign steps: a plan writes 260,000 rows in a statement, far over the
    5-second statement limit the message path keeps (``bot.db.make_engine``)."""
    engine = create_async_engine(url, pool_size=2, max_overflow=2, connect_args={"timeout": 5, "command_timeout": 600})
    return Database(engine)


#: A campaign's states as a cadre reads them (the code beside it, as logs and JSON name it).
STATE_NAMES = {
    "draft": "草稿",
    "planned": "已规划，待批准",
    "approved": "已批准",
    "sending": "发送中",
    "done": "已发完",
    "cancelled": "已取消",
}


def state_name(state: str) -> str:
    """「已批准（approved）」: the state in words, with its code."""
    return f"「{STATE_NAMES[state]}」（{state}）" if state in STATE_NAMES else state


class CampaignError(LongtuanError):
    """A step the campaign's state or its approvals do not allow; the message says why."""


class Campaigns:
    def __init__(self, settings: Settings, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.tz = ZoneInfo(settings.timezone)

    async def create(
        self,
        *,
        name: str,
        by: str,
        audience: dict[str, Any],
        text: str = "",
        template_id: str = "",
        fields: dict[str, str] | None = None,
        at: float | None = None,
        openids: list[str] | None = None,
    ) -> int:
        if bool(text) == bool(template_id):
            raise CampaignError("群发活动要有文字（--text）或模板（--template），二选一")
        audiences.resolve(audience, 0)  # an unknown source fails now, not at plan time
        content: dict[str, Any] = {"text": text} if text else {"template_id": template_id, "fields": fields or {}}
        async with self.db.session() as s:
            cid = await q.create(
                s, name=name, content=content, audience=audience, scheduled_at=at, by=by, now=self.clock()
            )
            if openids:
                await q.add_openids(s, cid, openids)
        return cid

    async def plan(self, cid: int, by: str = "system") -> dict[str, Any]:
        now = self.clock()
        async with self.db.session() as s:
            campaign = await self._locked(s, cid, "draft", "planned")
            start = max(now, campaign.scheduled_at.timestamp()) if campaign.scheduled_at else now
            local = datetime.fromtimestamp(start, self.tz)
            midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), self.tz).timestamp()
            month = datetime.combine(local.date().replace(day=1), datetime.min.time(), self.tz).timestamp()
            used = await sent_since(s, "template", day_start(start, self.tz))
            daily = self.settings.outbox_template_daily
            inputs = q.PlanInputs(
                now=now,
                start=start,
                midnight=midnight,
                cs_window=self.settings.outbox_cs_window,
                cs_allowance=self.settings.outbox_cs_allowance,
                month_start=month,
                mass_monthly=self.settings.outbox_mass_monthly,
                mass_batch=self.settings.outbox_mass_batch,
                template_daily=daily,
                template_left_today=max(0, daily - used),
                version=int((campaign.plan or {}).get("version", 0)) + 1,
            )
            sql, binds = audiences.resolve(campaign.audience, cid)
            summary = await q.plan(s, cid, sql, binds, inputs, self.settings.timezone)
            summary["custom_seconds"] = round(summary["ways"].get("custom", 0) / self.settings.outbox_rate, 1)
            await q.audit(s, cid, by, "plan", summary, now)
        return summary

    async def approve(self, cid: int, by: str) -> str:
        """Returns the state after this approval: ``approved``, or ``planned`` while a second is needed."""
        now = self.clock()
        async with self.db.session() as s:
            campaign = await self._locked(s, cid, "planned")
            approvers = await q.approve(s, cid, by, now)
            two_person = campaign.audience_size > self.settings.campaign_two_person
            # Two people: the cadre who made it and a second one; the maker's own approval is not the second.
            counted = [a for a in approvers if a != campaign.created_by] if two_person else approvers
            state = "approved" if counted else "planned"
            await q.audit(s, cid, by, "approve", {"approvers": approvers, "two_person": two_person}, now)
            if state == "approved":
                await q.set_state(s, cid, "approved")
        return state

    async def send(self, cid: int, by: str) -> str:
        """Start now, or leave it to the scheduler if its time is still to come; returns the state."""
        now = self.clock()
        async with self.db.session() as s:
            campaign = await self._locked(s, cid, "approved")
            if campaign.scheduled_at is not None and campaign.scheduled_at.timestamp() > now:
                await q.audit(s, cid, by, "schedule", {"at": campaign.scheduled_at.isoformat()}, now)
                return "approved"
            await self._start(s, campaign, by, now)
        return "sending"

    async def start_due(self) -> list[int]:
        """Start every approved campaign whose time has come (the scheduler's job; safe to run twice)."""
        now = self.clock()
        started = []
        async with self.db.session() as s:
            for cid in await q.due(s, now):
                campaign = await q.get(s, cid, lock=True)
                if campaign is not None and campaign.state == "approved":
                    await self._start(s, campaign, "scheduler", now)
                    started.append(cid)
        return started

    async def finish_done(self) -> list[int]:
        """Sending campaigns with nothing left due become done (what waits for an interaction may follow)."""
        finished = []
        async with self.db.session() as s:
            for cid in await q.sending(s):
                left = await q.progress(s, cid)
                if not left.get("pending") and not left.get("held"):
                    campaign = await q.get(s, cid, lock=True)
                    if campaign is not None and campaign.state == "sending":
                        await q.set_state(s, cid, "done")
                        await q.audit(s, cid, "system", "done", left, self.clock())
                        finished.append(cid)
        return finished

    async def cancel(self, cid: int, by: str) -> int:
        now = self.clock()
        async with self.db.session() as s:
            await self._locked(s, cid, "draft", "planned", "approved", "sending")
            stopped = await q.cancel(s, cid, now)
            await q.set_state(s, cid, "cancelled")
            await q.audit(s, cid, by, "cancel", {"stopped": stopped}, now)
        return stopped

    async def status(self, cid: int) -> tuple[q.CampaignRow, dict[str, int]]:
        async with self.db.session() as s:
            campaign = await q.get(s, cid)
            if campaign is None:
                raise CampaignError(f"没有编号为 {cid} 的群发活动")
            return campaign, await q.progress(s, cid)

    async def _start(self, s: Any, campaign: q.CampaignRow, by: str, now: float) -> None:
        planned = float((campaign.plan or {}).get("start", now))
        moved = await q.start(s, campaign.id, now, planned)
        await q.set_state(s, campaign.id, "sending")
        await q.audit(s, campaign.id, by, "send", {"rows": moved}, now)

    async def _locked(self, s: Any, cid: int, *states: str) -> q.CampaignRow:
        campaign = await q.get(s, cid, lock=True)
        if campaign is None:
            raise CampaignError(f"没有编号为 {cid} 的群发活动")
        if campaign.state not in states:
            needs = "或".join(state_name(x) for x in states)
            raise CampaignError(f"群发活动 {cid} 现在是{state_name(campaign.state)}，这一步要在{needs}时才能做")
        return campaign
