"""``bot.db.batch.Batcher`` against aiodataloader, the well-kept data loader for asyncio.

Where they agree: the reads asked for in one event-loop turn are one load, each caller gets the
value for its key, a failed load fails every caller. Where they differ, and why the batcher is
written here (the reasons in ``bot/db/batch.py``'s docstring): aiodataloader takes duplicate keys
out of a batch only through its cache, and its cache keeps a value after the data changed (a
ledger total after a check-out); and a load that is cancelled leaves its callers waiting forever,
since it only catches ``Exception``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from aiodataloader import DataLoader

from bot.db.batch import Batcher
from bot.errors import Unavailable


class Store:
    """The data both loaders read, and every batch of keys they asked it for."""

    def __init__(self) -> None:
        self.values = {"a": 1, "b": 2, "c": 3}
        self.batches: list[list[str]] = []
        self.gate: asyncio.Event | None = None
        self.fail: Exception | None = None

    async def read(self, keys: Sequence[str]) -> list[int]:
        self.batches.append(list(keys))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return [self.values[k] for k in keys]

    async def read_map(self, keys: Sequence[str]) -> dict[str, int]:
        return dict(zip(keys, await self.read(keys), strict=True))


async def test_both_load_the_reads_of_one_turn_together_and_answer_each_caller() -> None:
    theirs_store, ours_store = Store(), Store()
    theirs = DataLoader(theirs_store.read, cache=False)
    ours: Batcher[str, int] = Batcher(ours_store.read_map)
    keys = ["a", "b", "c"]
    assert await asyncio.gather(*(theirs.load(k) for k in keys)) == [1, 2, 3]
    assert await asyncio.gather(*(ours.get(k) for k in keys)) == [1, 2, 3]
    assert theirs_store.batches == ours_store.batches == [keys]
    # A read alone is a batch of one in both.
    assert (await theirs.load("b"), await ours.get("b")) == (2, 2)
    assert theirs_store.batches[-1] == ours_store.batches[-1] == ["b"]


async def test_both_fail_every_caller_when_the_load_fails() -> None:
    theirs_store, ours_store = Store(), Store()
    theirs_store.fail = ours_store.fail = Unavailable("database: down")
    theirs = DataLoader(theirs_store.read, cache=False)
    ours: Batcher[str, int] = Batcher(ours_store.read_map)
    for results in (
        await asyncio.gather(theirs.load("a"), theirs.load("b"), return_exceptions=True),
        await asyncio.gather(ours.get("a"), ours.get("b"), return_exceptions=True),
    ):
        assert all(isinstance(r, Unavailable) for r in results)


async def test_duplicate_keys_reach_theirs_without_a_cache_and_ours_once() -> None:
    theirs_store, ours_store = Store(), Store()
    theirs = DataLoader(theirs_store.read, cache=False)
    ours: Batcher[str, int] = Batcher(ours_store.read_map)
    await asyncio.gather(*(theirs.load(k) for k in ["a", "b", "a"]))
    await asyncio.gather(*(ours.get(k) for k in ["a", "b", "a"]))
    assert theirs_store.batches == [["a", "b", "a"]]  # the same person read twice in one statement
    assert ours_store.batches == [["a", "b"]]


async def test_theirs_with_its_cache_keeps_a_value_after_the_data_changed() -> None:
    theirs_store, ours_store = Store(), Store()
    theirs = DataLoader(theirs_store.read)  # the cache on: its way to take duplicates out
    ours: Batcher[str, int] = Batcher(ours_store.read_map)
    assert (await theirs.load("a"), await ours.get("a")) == (1, 1)
    theirs_store.values["a"] = ours_store.values["a"] = 5  # a check-out added hours
    assert await theirs.load("a") == 1, "aiodataloader answers from its cache"
    assert await ours.get("a") == 5


async def test_a_cancelled_load_leaves_their_callers_waiting_and_fails_ours() -> None:
    theirs_store, ours_store = Store(), Store()
    theirs_store.gate, ours_store.gate = asyncio.Event(), asyncio.Event()
    theirs = DataLoader(theirs_store.read, cache=False)
    ours: Batcher[str, int] = Batcher(ours_store.read_map)
    waiting_theirs = theirs.load("a")
    waiting_ours = asyncio.ensure_future(ours.get("a"))
    await asyncio.sleep(0.05)  # both loads are under way, at their gates
    current = asyncio.current_task()
    for task in asyncio.all_tasks():
        if task is not current and task is not waiting_ours:
            task.cancel()  # the loads' own tasks (shutdown, say)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(waiting_theirs), 0.3)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiting_ours, 0.3)
    waiting_theirs.cancel()
