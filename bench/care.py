"""What care adds to a message, in CPU: ``python -m bench.care``.

Every text passes the traditional check (OpenCC t2s, cached per text) and the crisis words
(one regex pass, cached per text); a traditional writer's reply is converted back (s2t, cached
per reply text). Timed here apart from the gateway, cache misses and hits separately; the last
line is one JSON object with the figures in microseconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from bot.content import load_content
from bot.text import to_simplified, to_traditional
from handlers.care.config import care_content
from handlers.care.crisis import CrisisWords

TEXTS = ["夜校怎么报名", "志愿时长怎么查", "今天天气怎么样", "你们周末有人值班吗？", "我想问一下那个东西还有没有"]
TRADITIONAL = ["志願時長怎麼查", "我想報名夜校", "週末有人值班嗎", "請問實習崗位在哪裡看"]


def _per_call(fn: Callable[[int], None], calls: int) -> float:
    """Microseconds per call of ``fn`` run over ``calls`` distinct indices, best of three."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        fn(calls)
        best = min(best, time.perf_counter() - started)
    return best / calls * 1e6


def main() -> None:
    content = load_content()
    words = CrisisWords(care_content(content))
    reply = next(e.answer for e in content.faq if e.id == "night_school.signup")
    n = 5000
    counter = iter(range(10**9))

    def t2s_miss(k: int) -> None:
        for _ in range(k):
            i = next(counter)
            to_simplified(f"{TRADITIONAL[i % 4]}{i}")

    def t2s_hit(k: int) -> None:
        for i in range(k):
            to_simplified(TEXTS[i % 5])

    def s2t_miss(k: int) -> None:
        for _ in range(k // 10):
            to_traditional(f"{reply}{next(counter)}")

    def crisis_miss(k: int) -> None:
        for _ in range(k):
            words.classify(f"{TEXTS[next(counter) % 5]}{next(counter)}")

    def crisis_hit(k: int) -> None:
        for i in range(k):
            words.classify(TEXTS[i % 5])

    figures = {
        "t2s_miss_us": _per_call(t2s_miss, n),
        "t2s_hit_us": _per_call(t2s_hit, n),
        "s2t_reply_miss_us": _per_call(s2t_miss, n) * 10,
        "crisis_miss_us": _per_call(crisis_miss, n),
        "crisis_hit_us": _per_call(crisis_hit, n),
    }
    print(f"{'what':<22}{'µs a call':>10}")
    for name, value in figures.items():
        print(f"{name:<22}{value:>10.2f}")
    print(json.dumps({k: round(v, 2) for k, v in figures.items()}))


if __name__ == "__main__":
    main()
