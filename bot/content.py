"""Content: every user-facing text, FAQ, command word, menu and scene, loaded from ``content/``.

Files are read and validated once at start-up; a missing key or a placeholder mismatch is a
``ConfigError`` naming the file and key, never a surprise in front of a user.
"""

from __future__ import annotations

import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.model import Reply

#: The shipped content folder (a top-level package of this project).
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "content"


@dataclass(slots=True, frozen=True)
class FaqEntry:
    id: str
    question: str
    keywords: tuple[str, ...]
    also: tuple[str, ...]
    examples: tuple[str, ...]
    answer: str


@dataclass(slots=True)
class Content:
    """All texts and tables; ``render`` fills a ``Reply`` from its key and parameters."""

    texts: dict[str, str]
    faq: list[FaqEntry]
    synonyms: dict[str, list[str]]
    commands: dict[str, list[str]]
    menu: dict[str, Any]
    clicks: dict[str, str]
    scenes: dict[str, str]
    streets: list[str]
    dict_path: Path | None = None
    #: The folder the content was read from: programmes read their own tables there (care.toml ...).
    directory: Path = DEFAULT_DIR
    placeholders: dict[str, frozenset[str]] = field(default_factory=dict)

    def text(self, key: str, **params: Any) -> str:
        try:
            template = self.texts[key]
        except KeyError:
            raise ConfigError(f"content: no text under key {key!r}") from None
        return template.format(**params) if params or self.placeholders.get(key) else template

    def render(self, reply: Reply) -> Reply:
        """The reply with ``text`` filled from its key; a reply that already has text is returned as it is."""
        if not reply.text and reply.key:
            return reply.with_text(self.text(reply.key, **reply.params))
        return reply

    def reply(self, key: str, **params: Any) -> Reply:
        return self.render(Reply(key=key, params=params))


def _flatten(prefix: str, table: dict[str, Any], out: dict[str, str], source: str) -> None:
    for name, value in table.items():
        key = f"{prefix}.{name}" if prefix else name
        if isinstance(value, dict):
            _flatten(key, value, out, source)
        elif isinstance(value, str):
            out[key] = value.strip()
        else:
            raise ConfigError(f"{source}: {key} must be a string")


def placeholders_of(template: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


def _load(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"content: missing file {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"content: {path}: {exc}") from None


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where} must be a list of non-empty strings")
    return tuple(value)


def load_content(directory: str | Path | None = None) -> Content:
    root = Path(directory) if directory else DEFAULT_DIR
    texts: dict[str, str] = {}
    _flatten("", _load(root / "texts.toml"), texts, "texts.toml")
    # Each programme keeps its texts in a file of its own (content/texts/courses.toml ...);
    # a key defined twice is an error, not a silent override.
    for path in sorted((root / "texts").glob("*.toml")):
        more: dict[str, str] = {}
        _flatten("", _load(path), more, f"texts/{path.name}")
        clash = sorted(set(more) & set(texts))
        if clash:
            raise ConfigError(f"content: texts/{path.name} defines {', '.join(clash[:5])} again")
        texts.update(more)
    placeholders = {key: placeholders_of(t) for key, t in texts.items()}

    faq: list[FaqEntry] = []
    seen: set[str] = set()
    for i, raw in enumerate(_load(root / "faq.toml").get("faq", [])):
        where = f"faq.toml entry {i} ({raw.get('id', '?')})"
        entry = FaqEntry(
            id=str(raw.get("id", "")),
            question=str(raw.get("question", "")),
            keywords=_strings(raw.get("keywords"), f"{where}: keywords"),
            also=_strings(raw.get("also", []), f"{where}: also") if raw.get("also") else (),
            examples=_strings(raw.get("examples", []), f"{where}: examples") if raw.get("examples") else (),
            answer=str(raw.get("answer", "")).strip(),
        )
        if not entry.id or entry.id in seen or not entry.answer:
            raise ConfigError(f"{where}: needs a unique id and an answer")
        seen.add(entry.id)
        faq.append(entry)

    synonyms = {
        k: list(_strings(v, f"synonyms.toml: {k}"))
        for k, v in _load(root / "synonyms.toml").get("synonyms", {}).items()
    }
    owner: dict[str, str] = {}
    for canonical, variants in synonyms.items():
        for variant in variants:
            if owner.setdefault(variant, canonical) != canonical:
                raise ConfigError(f"synonyms.toml: {variant!r} is listed under {owner[variant]!r} and {canonical!r}")

    commands = {
        k: list(_strings(v, f"commands.toml: {k}"))
        for k, v in _load(root / "commands.toml").get("commands", {}).items()
    }
    menu_file = _load(root / "menu.toml")
    clicks = {str(k): str(v) for k, v in menu_file.get("clicks", {}).items()}
    for key, text_key in clicks.items():
        if text_key not in texts:
            raise ConfigError(f"menu.toml: click {key} answers with unknown text {text_key!r}")
    menu = {"button": menu_file.get("button", [])}
    scenes = {str(k): str(v) for k, v in _load(root / "scenes.toml").get("scenes", {}).items()}
    streets = list(_strings(_load(root / "streets.toml").get("streets"), "streets.toml: streets"))
    dict_path = root / "dict.txt"
    return Content(
        texts=texts,
        faq=faq,
        synonyms=synonyms,
        commands=commands,
        menu=menu,
        clicks=clicks,
        scenes=scenes,
        streets=streets,
        dict_path=dict_path if dict_path.exists() else None,
        directory=root,
        placeholders=placeholders,
    )
