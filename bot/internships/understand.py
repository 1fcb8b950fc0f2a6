"""What a person asked for: filters read from the words themselves, and the keywords left over.

「坂田 有没有 数据分析 的实习」 is street 坂田 and the keyword 数据分析; 「港澳台专场 设计」 is the
港澳台 round and 设计; 「寒假 會計實習」 is read as 寒假 会计实习 (OpenCC), season 寒假 and 会计.
Filters are found as substrings of the normalised text (longest first, each word used once);
keywords are jieba's tokens of what remains, minus stop words, each with its canonical synonym.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from bot.internships.index import is_term
from bot.internships.vocab import Vocabulary
from bot.text import Analyzer, normalise, to_simplified


@dataclass(slots=True, frozen=True)
class Query:
    #: Keyword groups: every group must match (a group is a word and its synonyms' canonical word).
    groups: tuple[tuple[str, ...], ...] = ()
    #: The keywords as the person wrote them (after simplification), for「坂田 · 数据分析」.
    keywords: tuple[str, ...] = ()
    street: str | None = None
    industry: str | None = None
    season: str | None = None
    hmt_round: bool | None = None
    paid: bool | None = None
    #: Words that said this is about internships (实习, 岗位 ...) or asked a question about the rules.
    trigger: bool = False
    meta: bool = False

    @property
    def filters(self) -> list[str]:
        """The filters as a person reads them, in a fixed order."""
        out = []
        if self.hmt_round:
            out.append("港澳台专场")
        if self.street:
            out.append(self.street)
        if self.industry:
            out.append(self.industry)
        if self.season:
            out.append(self.season)
        if self.paid:
            out.append("有报酬")
        return out

    @property
    def label(self) -> str:
        """「港澳台专场 · 坂田 · 数据分析」: what was understood."""
        return " · ".join([*self.filters, *self.keywords])

    @property
    def empty(self) -> bool:
        return not self.groups and not self.filters

    def without(self, name: str) -> Query:
        """The same query with one filter (``street`` ...) or the keywords (``keywords``) dropped."""
        if name == "keywords":
            return Query(
                street=self.street,
                industry=self.industry,
                season=self.season,
                hmt_round=self.hmt_round,
                paid=self.paid,
                trigger=self.trigger,
            )
        values = {
            "groups": self.groups,
            "keywords": self.keywords,
            "street": self.street,
            "industry": self.industry,
            "season": self.season,
            "hmt_round": self.hmt_round,
            "paid": self.paid,
            "trigger": self.trigger,
        }
        values[name] = None
        return Query(**values)  # type: ignore[arg-type]


class Understander:
    def __init__(self, analyzer: Analyzer, vocab: Vocabulary, canonical_words: frozenset[str]) -> None:
        self.analyzer = analyzer
        self.vocab = vocab
        #: Words of the synonym table: kept whole (「数据分析」 is one idea, with its own synonyms).
        self.known = canonical_words

    def _words(self, token: str) -> list[str]:
        """A long token no synonym knows is searched as the words inside it (「新媒体运营」 as
        新媒体 and 运营): the posts are indexed with those, and say 「新媒体编辑」 or 「运营新媒体」 too.
        Three characters or fewer stay whole (「短视频」 is not 「短视」 and 「视频」)."""
        if len(token) < 4 or token in self.known or self.analyzer.canonical(token) != token:
            return [token]
        inner = sorted(
            (w for w in self.analyzer.cut(token, for_search=True) if w != token and is_term(w)), key=len, reverse=True
        )
        chosen: list[str] = []
        covered = ""
        for word in inner:
            if word not in covered:
                chosen.append(word)
                covered += word + " "
        return chosen or [token]

    def __call__(self, text: str) -> Query:
        return self._understand(text)

    @lru_cache(maxsize=4096)  # noqa: B019 - one Understander per process, as long-lived as its cache
    def _understand(self, text: str) -> Query:
        norm = normalise(to_simplified(text))
        rest = norm
        vocab = self.vocab

        def take(words: tuple[str, ...] | list[str]) -> str | None:
            nonlocal rest
            for word in words:
                if word and word in rest:
                    rest = rest.replace(word, " ", 1)
                    return word
            return None

        hmt = take(vocab.hmt) is not None
        # 「龙岗区」 is the district, not the street 龙岗: drop it before looking for streets.
        rest = rest.replace("龙岗区", " ")
        for phrase in vocab.phrases:
            rest = rest.replace(phrase, " ")
        street = None
        for name in vocab.streets:
            if take([name + "街道", name]):
                street = name
                break
        industry = next((name for surface, name in vocab.industries if take([surface])), None)
        season = next((name for surface, name in vocab.seasons if take([surface])), None)
        paid = True if take(list(vocab.paid)) else None
        groups: list[tuple[str, ...]] = []
        keywords: list[str] = []
        # A trigger word counts wherever it stands: 「我想找工作」 loses 「想找」 to the phrases above.
        trigger = any(word in norm for word in vocab.trigger)
        meta = False
        tokens = [word for token in self.analyzer.cut(rest) for word in self._words(token)]
        for token in tokens:
            canonical = self.analyzer.canonical(token)
            if token in vocab.trigger or canonical in vocab.trigger:
                trigger = True
                continue
            if token in vocab.meta or canonical in vocab.meta:
                meta = True
                continue
            if token in vocab.stop or canonical in vocab.stop or not is_term(token):
                continue
            if token in keywords:
                continue
            keywords.append(token)
            groups.append(tuple(sorted({token, canonical})))
        return Query(
            groups=tuple(groups),
            keywords=tuple(keywords),
            street=street,
            industry=industry,
            season=season,
            hmt_round=True if hmt else None,
            paid=paid,
            trigger=trigger,
            meta=meta,
        )
