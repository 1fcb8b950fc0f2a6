"""The search vocabulary (``content/internships.toml``): filter words, trigger words, stop words."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from bot.content import DEFAULT_DIR, Content
from bot.errors import ConfigError
from bot.text import normalise


@dataclass(slots=True, frozen=True)
class Vocabulary:
    streets: tuple[str, ...]
    #: Surface word -> industry, longest surface first.
    industries: tuple[tuple[str, str], ...]
    #: Surface word -> season, longest surface first.
    seasons: tuple[tuple[str, str], ...]
    hmt: tuple[str, ...]
    paid: tuple[str, ...]
    trigger: frozenset[str]
    meta: frozenset[str]
    stop: frozenset[str]
    #: Phrases cut out of the text before it is split into words (「我学」 would be one token).
    phrases: tuple[str, ...]

    @property
    def industry_names(self) -> frozenset[str]:
        return frozenset(name for _, name in self.industries)


def _words(table: dict[str, object], key: str) -> tuple[str, ...]:
    value = table.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"internships.toml: {key} must be a list of words")
    return tuple(normalise(v) for v in value)


def _aliases(table: object, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(table, dict):
        raise ConfigError(f"internships.toml: [{where}] is missing")
    pairs = [(normalise(alias), str(name)) for name, aliases in table.items() for alias in _words(table, name)]
    return tuple(sorted(pairs, key=lambda p: len(p[0]), reverse=True))


def load_vocabulary(content: Content) -> Vocabulary:
    root = content.dict_path.parent if content.dict_path is not None else DEFAULT_DIR
    path = Path(root) / "internships.toml"
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"content: {path}: {exc}") from None
    words = raw.get("words", {})
    return Vocabulary(
        streets=tuple(content.streets),
        industries=_aliases(raw.get("industries"), "industries"),
        seasons=_aliases(raw.get("seasons"), "seasons"),
        hmt=_words(words, "hmt"),
        paid=_words(words, "paid"),
        trigger=frozenset(_words(words, "trigger")),
        meta=frozenset(_words(words, "meta")),
        stop=frozenset(_words(words, "stop")),
        phrases=tuple(sorted(_words(words, "phrases"), key=len, reverse=True)),
    )
