"""``bot.db.batch.Batcher``: reads asked for in one event-loop turn are loaded together, each
caller gets its own answer or the load's failure, and nobody waits for company."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from bot.db.batch import Batcher
from bot.errors import Unavailable


class Loads:
    def __init__(self, fail: BaseException | None = None, gate: asyncio.Event | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail
        self.gate = gate

    async def __call__(self, keys: Sequence[str]) -> dict[str, str]:
        self.calls.append(list(keys))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return {k: k.upper() for k in keys if k != "missing"}


async def test_keys_asked_in_one_turn_are_one_load_each_key_once() -> None:
    loads = Loads()
    batcher: Batcher[str, str] = Batcher(loads)
    got = await asyncio.gather(*(batcher.get(k) for k in ["a", "b", "a", "c"]))
    assert got == ["A", "B", "A", "C"]
    assert loads.calls == [["a", "b", "c"]]
    assert (batcher.batches, batcher.keys) == (1, 3)


async def test_a_read_alone_goes_alone_and_at_once() -> None:
    loads = Loads()
    batcher: Batcher[str, str] = Batcher(loads)
    assert await batcher.get("a") == "A"
    assert await batcher.get("b") == "B"
    assert loads.calls == [["a"], ["b"]]


async def test_keys_asked_while_a_batch_loads_make_the_next_batch() -> None:
    gate = asyncio.Event()
    loads = Loads(gate=gate)
    batcher: Batcher[str, str] = Batcher(loads)
    first = asyncio.ensure_future(batcher.get("a"))
    await asyncio.sleep(0.01)  # the first batch is taken and waits at the gate
    second = asyncio.ensure_future(batcher.get("b"))
    await asyncio.sleep(0.01)
    gate.set()
    assert (await first, await second) == ("A", "B")
    assert loads.calls == [["a"], ["b"]]


async def test_every_caller_gets_the_loads_failure() -> None:
    batcher: Batcher[str, str] = Batcher(Loads(fail=Unavailable("database: down")))
    results = await asyncio.gather(batcher.get("a"), batcher.get("b"), return_exceptions=True)
    assert all(isinstance(r, Unavailable) for r in results)
    # The batcher is not broken by it: the next turn's reads load again.
    ok: Batcher[str, str] = Batcher(Loads())
    assert await ok.get("a") == "A"


async def test_a_key_the_load_gave_nothing_for_fails_that_caller_only() -> None:
    batcher: Batcher[str, str] = Batcher(Loads())
    results = await asyncio.gather(batcher.get("missing"), batcher.get("b"), return_exceptions=True)
    assert isinstance(results[0], LookupError) and results[1] == "B"


async def test_a_cancelled_caller_leaves_the_others_their_answers() -> None:
    gate = asyncio.Event()
    batcher: Batcher[str, str] = Batcher(Loads(gate=gate))
    gone = asyncio.ensure_future(batcher.get("a"))
    stays = asyncio.ensure_future(batcher.get("a"))
    other = asyncio.ensure_future(batcher.get("b"))
    await asyncio.sleep(0.01)
    gone.cancel()
    gate.set()
    assert (await stays, await other) == ("A", "B")
    with pytest.raises(asyncio.CancelledError):
        await gone


async def test_batch_counts_are_on_the_metrics_page() -> None:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from bot.metrics import BatchCounts

    batcher: Batcher[str, str] = Batcher(Loads())
    await asyncio.gather(batcher.get("a"), batcher.get("b"))
    await batcher.get("c")
    registry = CollectorRegistry()
    registry.register(BatchCounts({"demo.reads": batcher}))
    found = {
        (s.name, s.labels["name"]): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    }
    assert found == {
        ("longtuan_db_batches_total", "demo.reads"): 2,
        ("longtuan_db_batched_reads_total", "demo.reads"): 3,
    }
