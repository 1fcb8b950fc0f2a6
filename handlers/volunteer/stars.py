"""Star levels and perks: data from ``content/volunteer/`` (levels.toml, perks.toml), validated on load."""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

from bot.content import DEFAULT_DIR
from bot.errors import ConfigError


@dataclass(slots=True, frozen=True)
class Level:
    stars: int
    name: str
    hours: Decimal


@dataclass(slots=True, frozen=True)
class Perk:
    stars: int
    provider: str
    title: str
    where: str


@dataclass(slots=True, frozen=True)
class Catalogue:
    levels: tuple[Level, ...]
    perks: tuple[Perk, ...]

    def level_of(self, hours: Decimal) -> Level | None:
        """The highest level whose threshold ``hours`` reaches (None below the first)."""
        reached = [lv for lv in self.levels if hours >= lv.hours]
        return reached[-1] if reached else None

    def next_after(self, level: Level | None) -> Level | None:
        stars = level.stars if level else 0
        return next((lv for lv in self.levels if lv.stars > stars), None)

    def perks_at(self, stars: int) -> list[Perk]:
        """Perks a volunteer of exactly ``stars`` stars gains (those of lower levels stay theirs too)."""
        return [p for p in self.perks if p.stars == stars]

    def perks_up_to(self, stars: int) -> list[Perk]:
        return sorted((p for p in self.perks if p.stars <= stars), key=lambda p: -p.stars)


def _read(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"content: {path}: {exc}") from None


@cache
def load(root: Path = DEFAULT_DIR) -> Catalogue:
    folder = root / "volunteer"
    raw_levels = _read(folder / "levels.toml").get("level", [])
    raw_perks = _read(folder / "perks.toml")
    levels: list[Level] = []
    for i, lv in enumerate(raw_levels if isinstance(raw_levels, list) else []):
        try:
            levels.append(Level(int(lv["stars"]), str(lv["name"]), Decimal(str(lv["hours"]))))
        except (KeyError, TypeError, ValueError, ArithmeticError):
            raise ConfigError(f"volunteer/levels.toml: level {i} needs stars, name and hours") from None
    if not levels or [lv.stars for lv in levels] != list(range(1, len(levels) + 1)):
        raise ConfigError("volunteer/levels.toml: levels must be 1, 2, 3 ... stars in order")
    if any(b.hours <= a.hours for a, b in itertools.pairwise(levels)):
        raise ConfigError("volunteer/levels.toml: each level needs more hours than the one before")
    providers_raw = raw_perks.get("provider", [])
    providers = {str(p["id"]): p for p in (providers_raw if isinstance(providers_raw, list) else [])}
    perks: list[Perk] = []
    perks_raw = raw_perks.get("perk", [])
    for i, p in enumerate(perks_raw if isinstance(perks_raw, list) else []):
        provider = providers.get(str(p.get("provider", "")))
        if provider is None:
            raise ConfigError(f"volunteer/perks.toml: perk {i} names an unknown provider {p.get('provider')!r}")
        stars = int(p.get("stars", 0))
        if not 1 <= stars <= len(levels) or not p.get("title"):
            raise ConfigError(f"volunteer/perks.toml: perk {i} needs a title and stars 1..{len(levels)}")
        perks.append(Perk(stars, str(provider["name"]), str(p["title"]), str(provider.get("where", ""))))
    return Catalogue(tuple(levels), tuple(perks))


def catalogue(content_dir: str) -> Catalogue:
    return load(Path(content_dir) if content_dir else DEFAULT_DIR)
