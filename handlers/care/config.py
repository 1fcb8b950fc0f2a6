"""Care's own content: the crisis and low-mood word lists, the district office, the privacy tables
(``content/care.toml``), read and validated once when the router is built."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bot.content import Content
from bot.errors import ConfigError

#: Crisis categories in priority order: a message naming two is answered for the first.
CATEGORIES = ("self_harm", "abuse", "danger", "bullying")


@dataclass(slots=True, frozen=True)
class Office:
    name: str
    hours: str
    phone: str
    address: str


@dataclass(slots=True, frozen=True)
class PrivacyTable:
    table: str
    columns: tuple[str, ...]
    #: The words of the privacy answer that tell people about this table.
    says: str


@dataclass(slots=True, frozen=True)
class CareContent:
    crisis: dict[str, tuple[str, ...]]
    benign: tuple[str, ...]
    low_mood: tuple[str, ...]
    office: Office
    privacy: tuple[PrivacyTable, ...]


def _words(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"care.toml: {where} must be a non-empty list of phrases")
    return tuple(v.strip() for v in value)


def _read(path: Path) -> CareContent:
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"content: missing file {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"content: {path}: {exc}") from None
    crisis_raw = raw.get("crisis", {})
    unknown = set(crisis_raw) - {*CATEGORIES, "benign"}
    if unknown:
        raise ConfigError(f"care.toml: unknown crisis categories {sorted(unknown)}")
    crisis = {name: _words(crisis_raw.get(name), f"crisis.{name}") for name in CATEGORIES}
    office = raw.get("office", {})
    if not office.get("name") or not office.get("hours"):
        raise ConfigError("care.toml: [office] needs a name and hours")
    privacy = tuple(
        PrivacyTable(str(t["table"]), _words(t.get("columns"), f"privacy {t.get('table')}"), str(t.get("says", "")))
        for t in raw.get("privacy", [])
    )
    return CareContent(
        crisis=crisis,
        benign=_words(crisis_raw.get("benign"), "crisis.benign"),
        low_mood=_words(raw.get("low_mood", {}).get("words"), "low_mood.words"),
        office=Office(
            str(office["name"]),
            str(office["hours"]),
            str(office.get("phone", "")).strip(),
            str(office.get("address", "")).strip(),
        ),
        privacy=privacy,
    )


@cache
def _cached(path: Path) -> CareContent:
    return _read(path)


def care_content(content: Content) -> CareContent:
    """``content/care.toml`` of this content folder (read once per folder)."""
    return _cached(content.directory / "care.toml")
