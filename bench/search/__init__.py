"""``python -m bench.search``: 展翅计划 search over 100,000 generated posts in PostgreSQL.

Posts are generated from the 194 demo posts (titles, sentences of duties, streets, industries,
seasons and the 港澳台 round recombined, deadlines over the coming months), indexed with the
import's own vector builder and copied into the bench's own database (``longtuan_bench_search``,
reused while it holds the same generation). Realistic queries then go through ``Searcher.find``,
the function the chat handler calls, plus the first page's rows, in a transaction each, as the
handler does: p50/p90/p99 in milliseconds, and a last line of JSON.
"""
