"""FAQ and keyword replies from ``content/faq.toml``, then the fallback for everything else."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from bot.content import Content, FaqEntry
from bot.context import Context
from bot.model import Inbound, Kind, Reply
from bot.router import Router
from bot.router.filters import HasText, Kinds
from bot.text import Analyzer, normalise
from handlers.care.fallback import unanswered


@dataclass(slots=True, frozen=True)
class _Indexed:
    entry: FaqEntry
    keywords: frozenset[str]
    also: frozenset[str]
    #: Character pairs of the question and examples: how close an unmatched text comes.
    pairs: frozenset[str]


@dataclass(slots=True, frozen=True)
class Score:
    """How a text fares against one entry (``longtuan faq check``, the fallback's suggestions)."""

    entry: FaqEntry
    keywords: frozenset[str]
    missing: frozenset[str]
    also: frozenset[str]
    similarity: float

    @property
    def matches(self) -> bool:
        return not self.missing

    @property
    def closeness(self) -> float:
        return 2 * len(self.keywords) + len(self.also) + 3 * self.similarity


def _pairs(text: str) -> frozenset[str]:
    chars = [c for c in normalise(text) if c.isalnum()]
    return frozenset(a + b for a, b in itertools.pairwise(chars))


class FaqIndex:
    """Best entry for a text: all its keywords present (after synonym folding), most keywords
    first, then most ``also`` words; ties go to the entry listed first in the file."""

    def __init__(self, entries: list[FaqEntry], analyzer: Analyzer) -> None:
        self.analyzer = analyzer

        def fold(words: tuple[str, ...]) -> frozenset[str]:
            # Folded the same way as user text, so a keyword written as a variant still works.
            return frozenset(analyzer.canonical(w) for w in words)

        self._entries = [
            _Indexed(e, fold(e.keywords), fold(e.also), frozenset().union(*map(_pairs, (e.question, *e.examples))))
            for e in entries
        ]

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

    def scores(self, text: str) -> list[Score]:
        """Every entry's score for ``text``, closest first."""
        return self._scored(text, near_only=False)

    def closest(self, text: str, limit: int = 3) -> tuple[list[str], list[FaqEntry]]:
        """For a text no entry matches: the topic words it understood, and the closest entries.

        An entry counts when the text has one of its keywords, or shares enough character pairs
        with its question and examples (「夜校咋个报」 has no keyword but is near 夜校怎么报名).
        """
        near = self._scored(text, near_only=True)[:limit]
        understood: list[str] = []
        for sc in near:
            understood.extend(w for w in sorted(sc.keywords) if w not in understood)
        return understood, [sc.entry for sc in near]

    def _scored(self, text: str, *, near_only: bool) -> list[Score]:
        """Scores closest first; ``near_only``: only of the entries ``closest`` may offer (the
        same order as filtering every score: the sort is stable), without scoring the others."""
        words = self.analyzer.analyse(text).words
        pairs = _pairs(text)
        found = []
        for item in self._entries:
            keywords = item.keywords & words
            shared = 0 if pairs.isdisjoint(item.pairs) else len(pairs & item.pairs)
            similarity = shared / (len(pairs) + len(item.pairs) - shared) if shared else 0.0
            if near_only and not keywords and similarity < SIMILAR:
                continue
            found.append(Score(item.entry, keywords, item.keywords - words, item.also & words, similarity))
        found.sort(key=lambda sc: (sc.matches, sc.closeness), reverse=True)
        return found


#: Share of character pairs (Jaccard) from which an entry is offered although no keyword matched.
SIMILAR = 0.2


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

    @r.on(Kinds(Kind.TEXT, Kind.VOICE), HasText())
    async def fallback(msg: Inbound, ctx: Context, text: str) -> Reply:
        # Kept (masked) for staff to learn from, and answered with the closest entries.
        return await unanswered(msg, ctx, text, index)

    @r.on(Kinds(Kind.VOICE))
    async def voice(msg: Inbound, ctx: Context) -> Reply:
        # Voice the platform could not recognise (recognised voice is text, handled above).
        return Reply("fallback.voice")

    @r.on(Kinds(Kind.LINK))
    async def link(msg: Inbound, ctx: Context) -> Reply:
        return Reply("fallback.link")

    @r.on(Kinds(Kind.IMAGE, Kind.VIDEO, Kind.SHORTVIDEO))
    async def media(msg: Inbound, ctx: Context) -> Reply:
        return Reply("fallback.media")

    @r.on(Kinds(Kind.TEXT))
    async def blank(msg: Inbound, ctx: Context) -> Reply:
        return Reply("fallback.unkept")  # nothing to keep

    return r
