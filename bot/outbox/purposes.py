"""Purposes with a template: which WeChat template or subscription notice carries a notice, and its fields.

Read from ``content/outbox.toml`` (or ``LONGTUAN_OUTBOX_PURPOSES``) once at start; a bad entry
is a ``ConfigError`` naming it. A field's value is a format string over the notice's ``fields``
plus ``text`` (the rendered reply): ``thing1 = "{class}"``.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.content import DEFAULT_DIR
from bot.errors import ConfigError

#: WeChat truncates template values; keeping them short keeps a notice readable (20 characters
#: is the ``thing`` field's limit).
MAX_VALUE = 20


@dataclass(slots=True, frozen=True)
class Purpose:
    name: str
    way: str  # "template" | "subscribe"
    template_id: str
    fields: Mapping[str, str] = field(default_factory=dict)
    url: str = ""

    def data(self, values: Mapping[str, str], text: str) -> dict[str, str]:
        """The template's data: each field filled from the notice (missing names become empty)."""
        names = _Missing({**values, "text": text})
        return {key: string.Formatter().vformat(tpl, (), names)[:MAX_VALUE] for key, tpl in self.fields.items()}


class _Missing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def load_purposes(path: str | Path | None = None) -> dict[str, Purpose]:
    where = Path(path) if path else DEFAULT_DIR / "outbox.toml"
    try:
        raw = tomllib.loads(where.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    purposes: dict[str, Purpose] = {}
    for name, entry in raw.get("purposes", {}).items():
        way, template_id = entry.get("way"), entry.get("template_id")
        if way not in ("template", "subscribe") or not isinstance(template_id, str) or not template_id:
            raise ConfigError(f"{where}: purposes.{name} needs way = template|subscribe and a template_id")
        fields = entry.get("fields", {})
        if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
            raise ConfigError(f"{where}: purposes.{name}.fields must map field names to texts")
        purposes[name] = Purpose(name, way, template_id, dict(fields), str(entry.get("url", "")))
    return purposes
