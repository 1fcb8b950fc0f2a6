"""Crisis words: does a message signal self-harm, abuse, danger or bullying (or only a low mood)?

Matched on the whole message as one string of letters (spaces and punctuation dropped, so
「不 想 活 了」 is caught), after the known jokes that contain a crisis phrase are cut out
(「想死你们了」「笑死我了」「跳楼价」): a cut leaves a mark, so the words on either side never join.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from bot.content import Content
from bot.text import normalise
from handlers.care.config import CATEGORIES, CareContent, care_content

#: Everything that is not a letter or digit of some script: spaces, punctuation, emoji.
_NOISE = re.compile(r"[\W_]+")
LOW_MOOD = "low_mood"


def _alternation(phrases: Iterable[str]) -> re.Pattern[str]:
    # Longest first, so "不想活动" (benign) is tried before a shorter phrase inside it.
    cleaned = {_NOISE.sub("", normalise(p)) for p in phrases}
    return re.compile("|".join(re.escape(p) for p in sorted(cleaned, key=len, reverse=True) if p))


class CrisisWords:
    def __init__(self, care: CareContent) -> None:
        self._category = {
            _NOISE.sub("", normalise(p)): name for name in reversed(CATEGORIES) for p in care.crisis[name]
        }
        self._crisis = _alternation(self._category)
        self._benign = _alternation(care.benign)
        self._low = _alternation(care.low_mood)
        self.classify = lru_cache(maxsize=4096)(self._classify)

    def _classify(self, text: str) -> str | None:
        """The crisis category (``self_harm`` ...), ``low_mood``, or None."""
        flat = self._benign.sub("|", _NOISE.sub("", normalise(text)))
        found = {self._category[m.group(0)] for m in self._crisis.finditer(flat)}
        if found:
            return next(name for name in CATEGORIES if name in found)
        return LOW_MOOD if self._low.search(flat) else None


_MATCHERS: dict[Path, CrisisWords] = {}


def crisis_words(content: Content) -> CrisisWords:
    """One matcher per content folder: both care routers share it, and its cache."""
    found = _MATCHERS.get(content.directory)
    if found is None:
        found = _MATCHERS[content.directory] = CrisisWords(care_content(content))
    return found
