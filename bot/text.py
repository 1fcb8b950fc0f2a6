"""Text analysis: normalise what a user typed, cut it into words with jieba, fold synonyms."""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import jieba
import opencc

from bot.model import Reply

#: Trailing punctuation people add to commands ("帮助！", "help?") that must not change the match.
_TRAILING = " \t\r\n!！?？。.,，~～…、"


@lru_cache(maxsize=2)  # one each way: a single slot would rebuild them in turn
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


@lru_cache(maxsize=8192)
def to_simplified(text: str) -> str:
    """Traditional Chinese (as 港澳台 youth write) folded to simplified before any matching."""
    # ASCII cannot change: skip OpenCC for digits, commands and English.
    return text if text.isascii() else str(_converter("t2s").convert(text))


@lru_cache(maxsize=4096)
def to_traditional(text: str) -> str:
    """A reply's text for someone who wrote traditional; replies repeat, so each is converted once.

    Hong Kong's standard forms (「為」, not OpenCC's default 「爲」): those who write traditional
    here are mostly 港澳 youth. Then ``_TRADITIONAL_FIXES`` undoes what OpenCC's word splitting
    gets wrong in the district's own names.
    """
    if text.isascii():
        return text
    converted = str(_converter("s2hk").convert(text))
    for wrong, right in _TRADITIONAL_FIXES:
        converted = converted.replace(wrong, right)
    return converted


#: OpenCC reads 「坪地志愿」 as 地志 (a gazetteer, 地誌) + 愿: the street 坪地 keeps its 志. It splits
#: 「请回复」 as 请回 + 复 and writes 回復 (to recover), where every other 回复 becomes Hong Kong's
#: 回覆 (to reply): this bot's 回复 is always a reply.
_TRADITIONAL_FIXES = (("地誌願", "地志願"), ("回復", "回覆"))


def in_traditional(reply: Reply) -> Reply:
    """A rendered reply for someone who wrote traditional: its text, and its choices with what they
    send back (so tapping one keeps the answer traditional; it is folded to simplified on arrival)."""
    buttons = tuple(replace(b, text=to_traditional(b.text), payload=to_traditional(b.payload)) for b in reply.buttons)
    return replace(reply, text=to_traditional(reply.text), buttons=buttons)


@lru_cache(maxsize=8192)
def normalise(text: str) -> str:
    """NFKC (full-width letters and digits become ASCII), lower case, trimmed of trailing punctuation."""
    return unicodedata.normalize("NFKC", text).strip().lower().rstrip(_TRAILING).strip()


#: Particles people end a command with (「帮助呀」「我的课程呢」「取消吧」); 吗 is not one (「在吗」).
_PARTICLES = "呀啊呢吧哦啦嘛呗"


@lru_cache(maxsize=8192)
def command_form(text: str) -> str:
    """The normalised text without one trailing particle: what a whole-message command is matched on."""
    norm = normalise(text)
    if len(norm) > 1 and norm[-1] in _PARTICLES:
        return norm[:-1].rstrip(_TRAILING)
    return norm


@lru_cache(maxsize=8192)
def command_forms(text: str) -> tuple[str, ...]:
    """The forms of a text a command word is matched against: as typed (trimmed), normalised, and
    without a trailing particle (``filters.Command``; the router's index of command words)."""
    return tuple(dict.fromkeys((text.strip(), normalise(text), command_form(text))))


@dataclass(slots=True, frozen=True)
class Analysed:
    norm: str
    #: Canonical words: jieba's tokens with every known synonym folded onto its canonical word.
    words: frozenset[str]


class Analyzer:
    """Owns one jieba tokenizer with the project dictionary; results are cached per text.

    Campaign replies repeat the same few phrases thousands of times, so an LRU over the
    normalised text saves the cut on the hot path.
    """

    def __init__(self, synonyms: dict[str, list[str]], dict_path: Path | None = None, cache_size: int = 8192) -> None:
        # jieba logs its dictionary loading at DEBUG/INFO on its own logger; keep it quiet.
        jieba.setLogLevel(logging.WARNING)
        self._tokenizer = jieba.Tokenizer()
        if dict_path is not None:
            # jieba leaves a path it opened itself unclosed; hand it an open file instead.
            with dict_path.open("rb") as fh:
                self._tokenizer.load_userdict(fh)
        self._fold: dict[str, str] = {}
        for canonical, variants in synonyms.items():
            self._fold[canonical] = canonical
            for variant in variants:
                self._fold[normalise(variant)] = canonical
                self._tokenizer.add_word(variant)
            self._tokenizer.add_word(canonical)
        # Longest surface form first, so "志愿服务" is folded before "志愿".
        self._surfaces = sorted(self._fold, key=len, reverse=True)
        self.analyse = lru_cache(maxsize=cache_size)(self._analyse)

    def canonical(self, word: str) -> str:
        norm = normalise(word)
        return self._fold.get(norm, norm)

    def cut(self, text: str, *, for_search: bool = False) -> list[str]:
        """jieba's tokens of the normalised text, in order, unfolded; ``for_search`` adds the
        shorter words inside long ones (「数据分析师」 also gives 「数据」「分析」), for an index."""
        norm = normalise(text)
        tokens = self._tokenizer.cut_for_search(norm) if for_search else self._tokenizer.cut(norm)
        return [tok for tok in tokens if tok.strip()]

    def warm_up(self) -> None:
        """Load jieba's main dictionary now rather than on the first user's message."""
        self._tokenizer.initialize()

    def _analyse(self, text: str) -> Analysed:
        norm = normalise(text)
        words = {self._fold.get(tok, tok) for tok in self._tokenizer.cut(norm) if tok.strip()}
        # jieba may cut a known phrase differently inside a longer sentence; any surface form
        # that stands in the text as a substring still counts as its canonical word.
        for surface in self._surfaces:
            if len(surface) > 1 and surface in norm:
                words.add(self._fold[surface])
        return Analysed(norm=norm, words=frozenset(words))
