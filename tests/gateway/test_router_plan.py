"""The router's short cut past command routes chooses exactly what walking every route would."""

from __future__ import annotations

import pytest

from bot.content import load_content
from bot.context import Context
from bot.model import Inbound, Kind
from bot.router import Router
from bot.router.filters import Command
from bot.services import load_analyzer
from bot.session.base import Session
from handlers import build_router


@pytest.fixture(scope="module")
def root() -> Router:
    content = load_content(None)
    return build_router(content, load_analyzer(content))


def _samples(root: Router) -> list[str]:
    words = sorted({w for r in root.routes() for f in r.filters if type(f) is Command for w in f.words})
    variants = [w + tail for w in words for tail in ("", "！", " ", "呢", "吗", "?")]
    others = ["我想问一下那个东西还有没有", "哈哈哈哈哈", "摄影课", "签到 000001", "4", "ＨＥＬＰ", "帮 助", ""]
    return [*variants, *others]


@pytest.mark.parametrize("kind", [Kind.TEXT, Kind.VOICE])
def test_the_short_cut_keeps_exactly_the_command_routes_that_match(root: Router, kind: Kind) -> None:
    """Every route whose first filter is a command that takes the text is kept, in order, and
    every other command route is left out; the routes that start otherwise are all kept."""
    ctx = Context(services=None, session=Session())  # type: ignore[arg-type]  # filters read the session only
    full = root.routes_for(kind, None)
    samples = _samples(root)
    assert len(samples) > 500
    narrowed = without = 0
    for text in samples:
        msg = Inbound(channel="wechat", user_id="o-plan", kind=kind, created_at=0, text=text)
        chosen = root._candidates(msg, ctx, None)
        taking = {id(r) for r in full if r.filters and type(r.filters[0]) is Command and r.filters[0](msg, ctx) is True}
        expected = [r for r in full if not (r.filters and type(r.filters[0]) is Command) or id(r) in taking]
        assert chosen == expected, f"{text!r}"
        narrowed += bool(taking)
        without += not taking
    assert narrowed > 400 and without >= 3, "the index was never used both ways"


def test_a_route_named_twice_keeps_its_own_words() -> None:
    """Two command routes of one handler name (mine.my_classes) are told apart by position."""
    ctx = Context(services=None, session=Session())  # type: ignore[arg-type]
    r = Router("t")

    async def first(msg: Inbound, ctx: Context) -> None:
        return None

    r.on(Command(["甲"]))(first)
    r.on(Command(["乙"]))(first)
    chosen = r._candidates(Inbound(channel="wechat", user_id="o", kind=Kind.TEXT, created_at=0, text="乙"), ctx, None)
    assert [rt.filters[0].words for rt in chosen] == [frozenset({"乙"})]  # type: ignore[attr-defined]
