"""The router's short cut past command routes chooses exactly what walking every route would."""

from __future__ import annotations

import pytest

from bot.content import load_content
from bot.context import Context
from bot.model import Inbound, Kind
from bot.router import Route, Router
from bot.router.filters import Command
from bot.services import load_analyzer
from bot.session.base import Session
from handlers import build_router


@pytest.fixture(scope="module")
def root() -> Router:
    content = load_content(None)
    return build_router(content, load_analyzer(content))


def _first_passing(routes: list[Route], msg: Inbound, ctx: Context) -> list[str]:
    """The names of the routes whose first filter is a command that takes the message."""
    return [r.name for r in routes if r.filters and type(r.filters[0]) is Command and r.filters[0](msg, ctx) is True]


def _samples(root: Router) -> list[str]:
    words = sorted({w for r in root.routes() for f in r.filters if type(f) is Command for w in f.words})
    variants = [w + tail for w in words for tail in ("", "！", " ", "呢", "吗", "?")]
    others = ["我想问一下那个东西还有没有", "哈哈哈哈哈", "摄影课", "签到 000001", "4", "ＨＥＬＰ", "帮 助", ""]
    return [*variants, *others]


@pytest.mark.parametrize("kind", [Kind.TEXT, Kind.VOICE])
def test_the_short_cut_never_skips_a_command_that_matches(root: Router, kind: Kind) -> None:
    ctx = Context(services=None, session=Session())  # type: ignore[arg-type]  # filters read the session only
    full = root.routes_for(kind, None)
    samples = _samples(root)
    assert len(samples) > 500
    skipped = 0
    for text in samples:
        msg = Inbound(channel="wechat", user_id="o-plan", kind=kind, created_at=0, text=text)
        chosen = root._candidates(msg, ctx, None)
        if chosen is not full:
            skipped += 1
            assert _first_passing(full, msg, ctx) == [], f"{text!r}: a command route was skipped that matches"
            assert chosen == [r for r in full if not (r.filters and type(r.filters[0]) is Command)]
    assert skipped >= 3, "the short cut was never taken"
