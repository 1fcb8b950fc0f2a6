"""Audience sources: who a campaign reaches, as SQL selecting ``users.id`` (the registry programmes add to).

A source is ``(params) -> (sql, binds)``; its SQL selects one column, the users' ids. The
built-in sources are the account's own: ``all`` (everyone the account knows on WeChat; those who
left are reported as unreachable by the plan), ``streets``, ``tag`` (``longtuan campaign tag``)
and ``openids`` (an uploaded list). A programme registers its participants at import time:

    register("courses.class", lambda p: ("SELECT user_id FROM signups WHERE class_id = :c", {"c": int(p["class"])}))

and a campaign names it: ``--audience courses.class:class=12``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.errors import ConfigError

Source = Callable[[Mapping[str, Any]], tuple[str, dict[str, Any]]]

_SOURCES: dict[str, Source] = {}


def register(name: str, source: Source) -> None:
    if name in _SOURCES and _SOURCES[name] is not source:
        raise ConfigError(f"audience source {name!r} is registered twice")
    _SOURCES[name] = source


def names() -> list[str]:
    return sorted(_SOURCES)


def resolve(audience: Mapping[str, Any], campaign_id: int) -> tuple[str, dict[str, Any]]:
    """The SQL of a campaign's audience (``{"source": name, "params": {...}}``)."""
    name = str(audience.get("source", ""))
    try:
        source = _SOURCES[name]
    except KeyError:
        raise ConfigError(f"unknown audience {name!r} (known: {', '.join(names())})") from None
    return source({**audience.get("params", {}), "campaign_id": campaign_id})


def _all(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return "SELECT id FROM users WHERE channel = 'wechat'", {}


def _streets(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    streets = [str(s) for s in params.get("streets", [])]
    if not streets:
        raise ConfigError("audience streets needs at least one street")
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
    """``all`` · ``streets:平湖,布吉`` · ``tag:NAME`` · ``openids`` · ``SOURCE:key=value,key=value``."""
    name, _, rest = spec.partition(":")
    if name == "streets":
        return {"source": "streets", "params": {"streets": [s for s in rest.split(",") if s]}}
    if name == "tag":
        return {"source": "tag", "params": {"tag": rest}}
    params = dict(item.split("=", 1) for item in rest.split(",") if "=" in item)
    return {"source": name, "params": params}
