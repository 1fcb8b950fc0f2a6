"""FAQ and keyword replies from ``content/faq.toml``, then the fallback for everything else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.content import Content, FaqEntry
from bot.context import Context
from bot.model import Inbound, Kind, Reply
from bot.router import Router
from bot.router.filters import HasText, Kinds
from bot.text import Analyzer


@dataclass(slots=True, frozen=True)
class _Indexed:
    entry: FaqEntry
    keywords: frozenset[str]
    also: frozenset[str]


class FaqIndex:
    """Best entry for a text: all its keywords present (after synonym folding), most keywords
    first, then most ``also`` words; ties go to the entry listed first in the file."""

    def __init__(self, entries: list[FaqEntry], analyzer: Analyzer) -> None:
        self.analyzer = analyzer

        def fold(words: tuple[str, ...]) -> frozenset[str]:
            # Folded the same way as user text, so a keyword written as a variant still works.
            return frozenset(analyzer.canonical(w) for w in words)

        self._entries = [_Indexed(e, fold(e.keywords), fold(e.also)) for e in entries]

    def match(self, text: str) -> FaqEntry | None:
        words = self.analyzer.analyse(text).words
        best: tuple[int, int] = (0, 0)
        found: FaqEntry | None = None
        for item in self._entries:
            if item.keywords <= words:
                score = (len(item.keywords), len(item.also & words))
                if score > best:
                    best, found = score, item.entry
        return found


class FaqMatch:
    def __init__(self, index: FaqIndex) -> None:
        self.index = index

    def __call__(self, msg: Inbound, ctx: Context) -> bool | dict[str, Any]:
        if not msg.text.strip():
            return False
        entry = self.index.match(msg.text)
        return {"entry": entry} if entry is not None else False


def router(content: Content, analyzer: Analyzer) -> Router:
    r = Router("faq")
    index = FaqIndex(content.faq, analyzer)

    @r.on(Kinds(Kind.TEXT, Kind.VOICE, Kind.LINK), FaqMatch(index))
    async def answer(msg: Inbound, ctx: Context, entry: FaqEntry) -> Reply:
        return Reply(text=entry.answer, key=f"faq.{entry.id}")

    @r.on(Kinds(Kind.LOCATION))
    async def location(msg: Inbound, ctx: Context) -> Reply:
        label = msg.location.label if msg.location else ""
        return Reply("location.received", {"label": f"（{label}）" if label else ""})

    @r.on(Kinds(Kind.TEXT), HasText())
    async def fallback(msg: Inbound, ctx: Context, text: str) -> Reply:
        return Reply("fallback.text")

    @r.on(Kinds(Kind.VOICE))
    async def voice(msg: Inbound, ctx: Context) -> Reply:
        # Voice the platform recognised is text (handled above); this one it could not.
        return Reply("fallback.text" if msg.text else "fallback.voice")

    @r.on(Kinds(Kind.LINK))
    async def link(msg: Inbound, ctx: Context) -> Reply:
        return Reply("fallback.link")

    @r.on(Kinds(Kind.IMAGE, Kind.VIDEO, Kind.SHORTVIDEO))
    async def media(msg: Inbound, ctx: Context) -> Reply:
        return Reply("fallback.media")

    @r.on(Kinds(Kind.TEXT))
    async def blank(msg: Inbound, ctx: Context) -> Reply:
        return Reply("fallback.text")

    return r
