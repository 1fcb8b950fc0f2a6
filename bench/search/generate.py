"""Generated posts: the demo posts' parts recombined, reproducibly from a seed."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import date, timedelta

from bot.internships.records import Post

_SENTENCE = re.compile(r"[^。！？]+[。！？]")


def generate(demo: list[Post], count: int, today: date, seed: int = 7) -> Iterator[Post]:
    """``count`` posts: a demo post's title, majors and industry, its street or another's, duties
    drawn from three posts of the same industry, 35% in the 港澳台 round, 10% closed."""
    rng = random.Random(seed)
    by_industry: dict[str, list[Post]] = {}
    for p in demo:
        by_industry.setdefault(p.industry, []).append(p)
    sentences = {
        industry: [s for p in posts for s in _SENTENCE.findall(p.description)]
        for industry, posts in by_industry.items()
    }
    streets = [p.street for p in demo]
    for i in range(count):
        base = rng.choice(demo)
        pool = sentences[base.industry]
        duties = "".join(rng.sample(pool, k=min(3, len(pool))))
        deadline = today + timedelta(days=rng.randint(3, 240))
        yield Post(
            post_id=f"BENCH-{i + 1:06d}",
            title=base.title,
            company=rng.choice(demo).company,
            street=base.street if rng.random() < 0.6 else rng.choice(streets),
            industry=base.industry,
            majors=base.majors,
            description=duties[:400],
            positions=rng.randint(1, 10),
            pay=base.pay,
            hmt_round=rng.random() < 0.35,
            season=base.season,
            start_date=deadline + timedelta(days=rng.randint(3, 30)),
            deadline=deadline,
            status="closed" if rng.random() < 0.1 else "open",
            contact_email=base.contact_email,
        )
