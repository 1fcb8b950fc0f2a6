"""``python -m bench.campaign``: plan a campaign to 260,000 followers, then send it with two workers.

A realistic audience is seeded in its own database (``longtuan_bench_campaign``): 5 % wrote in
the last 48 hours, 3 % have left. The plan is timed in-process (target: 10 s or less). Two
``longtuan worker`` processes then send it against the fake platform (in this process), which
enforces every rule, the configured rate among them: each call over it is refused with 45011
and counted as a quota error. The figures: the sustained rate against the allowed one (target
98 % or more), quota errors (target 0), recipients not accounted for (sent, waiting or dropped
with a reason: target 0) and the workers' peak memory (target 200 MB each). The last line is one
JSON object.
"""
