"""Reminder rules: data in ``content/study.toml`` (id, a five-field cron, an audience), read and checked here."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

# APScheduler 3 ships no type information (no py.typed).
from apscheduler.triggers.cron import CronTrigger

from bot.content import DEFAULT_DIR
from bot.db.study.reminders import Audience
from bot.errors import ConfigError
from bot.settings import Settings

RULE_ID = re.compile(r"[a-z][a-z0-9_]{0,31}")


@dataclass(slots=True, frozen=True)
class Rule:
    id: str
    cron: str
    audience: Audience
    tz: ZoneInfo

    @property
    def trigger(self) -> CronTrigger:
        return CronTrigger.from_crontab(self.cron, timezone=self.tz)

    def due(self, now: datetime, window: float) -> datetime | None:
        """The rule's latest time in the last ``window`` seconds (it is due), or None."""
        fire: datetime | None = self.trigger.get_next_fire_time(None, now - timedelta(seconds=window))
        return fire if fire is not None and fire <= now else None

    def next_time(self, now: datetime) -> datetime | None:
        nxt: datetime | None = self.trigger.get_next_fire_time(None, now)
        return nxt


def rules_path(settings: Settings) -> Path:
    return Path(settings.content_dir or DEFAULT_DIR) / "study.toml"


def load_rules(path: Path, tz: ZoneInfo) -> list[Rule]:
    """Read and check the rules; a bad one is a ``ConfigError`` naming it."""
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh).get("reminder", [])
    except FileNotFoundError:
        raise ConfigError(f"content: missing file {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"content: {path}: {exc}") from None
    rules: list[Rule] = []
    for i, entry in enumerate(raw):
        where = f"{path.name} reminder {i} ({entry.get('id', '?')})"
        rule_id, cron, audience = str(entry.get("id", "")), str(entry.get("cron", "")), str(entry.get("audience", ""))
        if not RULE_ID.fullmatch(rule_id) or any(r.id == rule_id for r in rules):
            raise ConfigError(f"{where}: needs a unique id of lower-case letters, digits and _")
        if audience not in {a.value for a in Audience}:
            raise ConfigError(f"{where}: audience must be one of {', '.join(a.value for a in Audience)}")
        try:
            CronTrigger.from_crontab(cron, timezone=tz)
        except ValueError as exc:
            raise ConfigError(f"{where}: cron {cron!r}: {exc}") from None
        rules.append(Rule(rule_id, cron, Audience(audience), tz))
    return rules


def rules_of(settings: Settings) -> list[Rule]:
    return load_rules(rules_path(settings), ZoneInfo(settings.timezone))


def find(settings: Settings, rule_id: str) -> Rule:
    for rule in rules_of(settings):
        if rule.id == rule_id:
            return rule
    known = ", ".join(r.id for r in rules_of(settings))
    raise ConfigError(f"no study reminder rule {rule_id!r} (rules: {known})")
