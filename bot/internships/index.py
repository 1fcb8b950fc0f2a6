"""Text to search terms: jieba tokens and their synonyms' canonical words, as tsvector and tsquery text.

A post is indexed with every token jieba finds (``cut_for_search``: long words and the words
inside them) *and* each token's canonical synonym (美工 also as 设计), so a query folded onto the
canonical word finds every variant while the exact word, matching twice, ranks first. Fields are
weighted: title A, industry and majors B, description C, company D. The vector is built here as
a literal (``'设计':1A,4A``) rather than by PostgreSQL's parser, which knows nothing of Chinese.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from bot.text import Analyzer

#: PostgreSQL keeps positions up to 16,383; later ones are clamped there.
_MAX_POSITION = 16383
#: A lexeme may be at most 2,047 bytes; nothing a person types comes close, but a file might.
_MAX_LEXEME_BYTES = 200


def is_term(token: str) -> bool:
    """A token worth indexing or searching: not punctuation, not a lone Chinese character."""
    if not any(ch.isalnum() for ch in token):
        return False
    return len(token) > 1 or token.isascii()


def terms(analyzer: Analyzer, text: str) -> list[list[str]]:
    """The terms of ``text``, by position: each token with its canonical word, then the canonical
    words of synonyms that stand inside a longer token (「室内设计」 also gives 设计).

    Cut clause by clause: no word spans a 。 or a ；, and posts repeat clauses (「周末双休。」), so
    each clause's terms are cached.
    """
    out: list[list[str]] = []
    for clause in _CLAUSE.findall(text):
        out.extend(_clause_terms(analyzer, clause))
    return out


_CLAUSE = re.compile(r"[^。！？；;!?\n]+[。！？；;!?\n]*")


@lru_cache(maxsize=65536)
def _clause_terms(analyzer: Analyzer, text: str) -> tuple[list[str], ...]:
    out: list[list[str]] = []
    folded: set[str] = set()
    for token in analyzer.cut(text, for_search=True):
        if not is_term(token):
            continue
        canonical = analyzer.canonical(token)
        out.append([token] if canonical == token else [token, canonical])
        folded.add(canonical)
    extra = sorted(w for w in analyzer.analyse(text).words if is_term(w) and w not in folded)
    if extra:
        out.append(extra)
    return tuple(out)


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def facet(name: str, value: str) -> str:
    """A filter value as a lexeme (「街道=坂田」): the GIN index intersects it with the keywords,
    so 「坂田 数据分析」 reads the few posts that have both, not every 数据分析 post."""
    return f"{name}={value}"


def facets(
    street: str | None, industry: str | None, season: str | None, hmt_round: bool | None, paid: bool | None
) -> list[str]:
    """The lexemes a post carries for its filter values, and a query asks for (None: any)."""
    out = []
    if street:
        out.append(facet("街道", street))
    if industry:
        out.append(facet("行业", industry))
    if season:
        out.append(facet("时间", season))
    if hmt_round:
        out.append(facet("专场", "港澳台"))
    if paid:
        out.append(facet("报酬", "有"))
    return out


def tsvector(analyzer: Analyzer, fields: Sequence[tuple[str, str]], facets: Sequence[str] = ()) -> str:
    """A tsvector literal of ``fields`` given as (weight, text), positions counted across them,
    and of ``facets`` (weight D, position 1: the same for every post, so they never change a rank)."""
    positions: dict[str, list[str]] = {f: ["1D"] for f in facets}
    pos = 0
    for weight, text in fields:
        for group in terms(analyzer, text):
            pos = min(pos + 1, _MAX_POSITION)
            for lexeme in group:
                if len(lexeme.encode()) <= _MAX_LEXEME_BYTES:
                    positions.setdefault(lexeme, []).append(f"{pos}{weight}")
    return " ".join(f"{_quote(lex)}:{','.join(at)}" for lex, at in positions.items())


def tsquery(groups: Iterable[Iterable[str]], *, any_group: bool = False, facets: Sequence[str] = ()) -> str:
    """``(a | b) & (c | d)``: every group must match (``any_group``: one is enough); and every facet."""
    parts = []
    for group in groups:
        words = sorted({w for w in group if w and len(w.encode()) <= _MAX_LEXEME_BYTES})
        if words:
            parts.append("(" + " | ".join(_quote(w) for w in words) + ")")
    keywords = (" | " if any_group else " & ").join(parts)
    if not facets:
        return keywords
    must = " & ".join(_quote(f) for f in facets)
    return f"({keywords}) & {must}" if keywords else must
