"""Study reminders: every five minutes, each rule that is due reaches its members once per episode.

Idempotency: a member is *claimed* for (episode, member, rule) in ``study_reminder_sends``; the
unique key lets one claim win, so a rerun, an overlapping run or a second scheduler sends
nothing twice. With the outbox the notice is queued in the claim's own transaction: exactly
once. Without it the notice is sent once the claim has committed, which is at-most-once by
choice: a crash between the claim and the send loses that member's reminder (the next rule
still reaches them), where recording after the send would, after a crash, nag someone twice,
which is what members complain of and what the platform's quotas punish. A send the platform
answers "later" (retry) gives its claim back at the end of the run, so the next tick tries
again; a "dropped" one (not following, outside the window) is recorded and not retried.
A run with nothing left to retry records the rule as finished for the episode, so the ticks
after it in the window skip the rule instead of walking every member again.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

# APScheduler 3 ships no type information (no py.typed).
from apscheduler.triggers.cron import CronTrigger

from bot.context import Services
from bot.db.study import episodes, reminders
from bot.db.study.episodes import Episode
from bot.db.study.reminders import Audience, Target
from bot.model import Reply
from bot.outbound import Notice, Status
from handlers.study.parse import when
from handlers.study.rules import Rule, rules_of

if TYPE_CHECKING:
    from scheduler.jobs import AddJob

log = logging.getLogger("longtuan.study.jobs")

PURPOSE = "study_reminder"
JOB_ID = "study.reminders"


@dataclass(slots=True)
class Run:
    rule: str
    episode: int | None = None
    sent: int = 0
    #: status -> count, for what did not go out (dropped, retry)
    other: dict[str, int] = field(default_factory=dict)


def notice_for(rule: Rule, episode: Episode, target: Target, tz: ZoneInfo) -> Notice:
    closes = when(episode.closes_at, tz)
    params = {"number": episode.number, "title": episode.title, "link": episode.link, "closes": closes}
    reply = (
        Reply("study.remind_opening", params)
        if rule.audience is Audience.ALL
        else Reply("study.remind_pending", params)
    )
    return Notice(
        target.channel,
        target.external_id,
        PURPOSE,
        reply,
        key=f"{PURPOSE}:{episode.number}:{target.user_id}:{rule.id}",
        fields={"episode": f"第{episode.number}期", "title": episode.title, "closes": closes, "link": episode.link},
    )


async def run_rule(svc: Services, rule: Rule, *, again: bool = True) -> Run:
    """Send ``rule``'s reminder for the open episode to every member it has not reached yet.

    ``again`` False (the scheduled tick) skips a rule that already finished for this episode;
    a cadre's ``longtuan study remind RULE`` walks the members again (members bound since).
    """
    run = Run(rule.id)
    now = svc.local_now()
    async with svc.db.session() as s:
        episode = await episodes.current(s, now)
        if episode is None or not episode.is_open(now):
            return run
        if not again and await reminders.finished(s, episode.id, rule.id):
            run.episode = episode.number
            return run
    run.episode = episode.number
    batch = svc.settings.study_reminder_batch
    later: list[int] = []
    after = 0
    while True:
        async with svc.unit() as unit:
            claimed = await reminders.claim(
                unit.session, episode.id, rule.id, rule.audience, batch, now.astimezone(UTC), after
            )
            for target in claimed.targets:
                unit.notify(notice_for(rule, episode, target, svc.tz))
        if claimed.last is None:
            break
        after = claimed.last
        outcomes: dict[tuple[str, str], list[int]] = defaultdict(list)
        for target, result in zip(claimed.targets, unit.results, strict=True):
            if result.status is Status.RETRY:
                later.append(target.send_id)
            else:
                outcomes[(result.status.value, result.reason)].append(target.send_id)
            if result.ok:
                run.sent += 1
            else:
                run.other[result.status.value] = run.other.get(result.status.value, 0) + 1
        async with svc.db.session() as s:
            for (status, reason), ids in outcomes.items():
                await reminders.mark(s, ids, status, reason)
    async with svc.db.session() as s:
        if later:
            # Given back at the end, so the next tick (not this run) tries them again.
            await reminders.release(s, later)
        else:
            await reminders.finish(s, episode.id, rule.id, now)
    log.info("study reminders", extra={"rule": rule.id, "episode": episode.number, "sent": run.sent, **run.other})
    return run


async def send_reminders(svc: Services) -> int:
    """The scheduled tick: run every rule due within LONGTUAN_STUDY_REMINDER_WINDOW; returns how many went out."""
    now = svc.local_now()
    sent = 0
    for rule in rules_of(svc.settings):
        if rule.due(now, svc.settings.study_reminder_window) is not None:
            sent += (await run_rule(svc, rule, again=False)).sent
    return sent


def schedule(add: AddJob, tz: ZoneInfo) -> None:
    # Every five minutes rather than one job per rule at its own time: the rules are read afresh
    # each run (editing content/study.toml needs no restart) and a run missed while the scheduler
    # was down is made up within the window.
    add(JOB_ID, send_reminders, CronTrigger(minute="*/5", timezone=tz))
