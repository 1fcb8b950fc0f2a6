"""Audience sources: who a campaign reaches, as SQL selecting ``users.id`` (the registry programmes add to).

A source is ``(params) -> (sql, binds)``; its SQL selects one column, the users' ids. The
built-in sources are the account's own: ``all`` (everyone the account knows on WeChat; those who
left are reported as unreachable by the plan), ``streets``, ``tag`` (``longtuan campaign tag``)
and ``openids`` (an uploaded list). A programme registers its participants in a module of its
own, listed in ``PROGRAMMES`` (loaded before a source is looked up):

    register("courses.class", lambda p: ("SELECT user_id FROM course_signups WHERE class_id = :c", {...}))

and a campaign names it: ``--audience courses.class:class=12``, or by the short form ``class:12``
(``project:7``, ``subscribers`` or ``subscribers:设计``, ``branch:CODE``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from bot.errors import ConfigError

Source = Callable[[Mapping[str, Any]], tuple[str, dict[str, Any]]]

_SOURCES: dict[str, Source] = {}

#: The programmes' audience modules: each registers its sources when imported.
PROGRAMMES = (
    "bot.db.courses.audience",
    "bot.db.volunteer.audience",
    "bot.db.internships.audience",
    "bot.db.study.audience",
)

#: Short forms of ``--audience``: ``class:12`` is ``courses.class:class=12``.
SHORT = {
    "class": ("courses.class", "class"),
    "project": ("volunteer.project", "project"),
    "subscribers": ("internships.subscribers", "keyword"),
    "branch": ("study.branch", "branch"),
}


def _load_programmes() -> None:
    for module in PROGRAMMES:
        importlib.import_module(module)


def number(params: Mapping[str, Any], key: str, example: str) -> int:
    """A whole-number parameter of a source, or a ConfigError that shows the form (``class:12``)."""
    try:
        value = int(str(params.get(key, "")).strip())
    except ValueError:
        raise ConfigError(f"受众 {key} 后面要写编号，比如 {example}") from None
    if value < 1:
        raise ConfigError(f"受众 {key} 后面要写编号，比如 {example}")
    return value


def register(name: str, source: Source) -> None:
    if name in _SOURCES and _SOURCES[name] is not source:
        raise ConfigError(f"audience source {name!r} is registered twice")
    _SOURCES[name] = source


def names() -> list[str]:
    _load_programmes()
    return sorted(_SOURCES)


def resolve(audience: Mapping[str, Any], campaign_id: int) -> tuple[str, dict[str, Any]]:
    """The SQL of a campaign's audience (``{"source": name, "params": {...}}``)."""
    _load_programmes()
    name = str(audience.get("source", ""))
    try:
        source = _SOURCES[name]
    except KeyError:
        raise ConfigError(f"不认识的受众「{name}」（可以用：{'、'.join(names())}）") from None
    return source({**audience.get("params", {}), "campaign_id": campaign_id})


def _all(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return "SELECT id FROM users WHERE channel = 'wechat'", {}


def _streets(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    streets = [str(s) for s in params.get("streets", [])]
    if not streets:
        raise ConfigError("受众 streets 后面至少写一个街道，比如 streets:平湖,布吉")
    return "SELECT id FROM users WHERE channel = 'wechat' AND street = ANY(:streets)", {"streets": streets}


def _tag(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return "SELECT user_id FROM user_tags WHERE tag = :tag", {"tag": str(params.get("tag", ""))}


def _openids(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return (
        "SELECT u.id FROM campaign_openids c JOIN users u ON u.channel = 'wechat' AND u.external_id = c.external_id "
        "WHERE c.campaign_id = :campaign_id",
        {"campaign_id": int(params["campaign_id"])},
    )


register("all", _all)
register("streets", _streets)
register("tag", _tag)
register("openids", _openids)


def parse(spec: str) -> dict[str, Any]:
    """``all`` · ``streets:平湖,布吉`` · ``tag:NAME`` · ``openids`` · a short form (``class:12``) ·
    ``SOURCE:key=value,key=value``."""
    name, _, rest = spec.strip().partition(":")
    if name in SHORT and "=" not in rest:
        source, key = SHORT[name]
        return {"source": source, "params": {key: rest.strip()} if rest.strip() else {}}
    if name == "streets":
        return {"source": "streets", "params": {"streets": [s for s in rest.split(",") if s]}}
    if name == "tag":
        return {"source": "tag", "params": {"tag": rest}}
    params = dict(item.split("=", 1) for item in rest.split(",") if "=" in item)
    return {"source": name, "params": params}
