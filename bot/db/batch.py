"""Reads that many messages make at the same moment, sent to PostgreSQL as one statement.

Under load, many messages reach the same read in one event-loop turn: their Redis replies come
back together on one connection (``bot.session.resp``) and their handlers run one after the
other in that turn. Alone, each read is a round trip of its own: a ``write`` to PostgreSQL's
socket (the largest single cost of a 「我的时长」 in the server's profile, about a tenth of its
CPU), asyncpg's statement path, and a PostgreSQL backend woken for one statement. A ``Batcher``
collects the reads of one kind asked for in one turn and hands them to its ``load`` together, in
the next turn: one statement for all of them. A read asked alone goes alone, as soon as the turn
ends; nothing waits for company.

This is the data-loader pattern; aiodataloader, the well-kept one for asyncio, batches the same
way, and is not used for correctness reasons that its contract test shows
(``tests/hardening/test_db_batch_contract.py``): it takes a key asked twice out of a batch only
through its cache, and that cache keeps answering after the data changed (a ledger total after a
check-out: every read here must reach the database); and a load that is cancelled leaves its
callers waiting forever, since it catches only ``Exception``.

Each key is loaded once per batch however many callers asked for it; each caller gets its own
answer or the load's exception. A caller that is cancelled leaves the others their answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterator, Mapping, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T", bound=tuple[object, ...])

#: Sizes of a batched statement: a batch takes the smallest that holds it, larger ones several.
SIZES = (1, 2, 4, 8, 16, 32)


def values_list(size: int, types: Sequence[str]) -> str:
    """``size`` rows of asyncpg parameters for a ``VALUES`` list: ``(1, $1::t, $2::u), (2, $3, $4)``.

    Each row starts with its number (``n``, from 1), to match the answers to the keys. A VALUES list
    rather than arrays: the planner knows how many rows it has in the generic plan as well, finds
    that plan as cheap as a fresh one, and keeps it after its first five runs. With ``unnest`` of
    arrays it planned afresh every run (about 200 µs of PostgreSQL's CPU each, measured).
    """
    width = len(types)
    first = ", ".join(f"${i + 1}::{t}" for i, t in enumerate(types))
    rows = [f"(1, {first})"]
    for n in range(1, size):
        rows.append("(" + ", ".join([str(n + 1), *(f"${n * width + i + 1}" for i in range(width))]) + ")")
    return ", ".join(rows)


def chunks(keys: Sequence[T], blank: T) -> Iterator[tuple[int, Sequence[T], list[object]]]:
    """The keys in statements of ``SIZES``: (size, the keys, their parameters flattened, padded with
    ``blank`` rows to the size). A blank row must match nothing (a NULL channel id, say)."""
    most = SIZES[-1]
    for at in range(0, len(keys), most):
        chunk = keys[at : at + most]
        size = next(n for n in SIZES if n >= len(chunk))
        args: list[object] = []
        for key in chunk:
            args.extend(key)
        for _ in range(size - len(chunk)):
            args.extend(blank)
        yield size, chunk, args


class Batcher(Generic[K, V]):
    """``await get(key)``: the value ``load`` gives for ``key``, loaded with the other keys asked
    for in the same event-loop turn. ``load`` gets distinct keys and returns a value for each."""

    def __init__(self, load: Callable[[Sequence[K]], Awaitable[Mapping[K, V]]]) -> None:
        self._load = load
        self._waiting: dict[K, list[asyncio.Future[V]]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        #: Batches loaded and keys in them since the start (on /metrics: ``bot.metrics.BatchCounts``).
        self.batches = 0
        self.keys = 0

    async def get(self, key: K) -> V:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[V] = loop.create_future()
        waiting = self._waiting
        if waiting is None:
            waiting = self._waiting = {}
            # A new task's first step runs after the callbacks already due in this turn: the
            # handlers woken with this one ask for their keys before the batch is taken.
            task = loop.create_task(self._run(waiting))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        waiting.setdefault(key, []).append(future)
        return await future

    async def _run(self, waiting: dict[K, list[asyncio.Future[V]]]) -> None:
        if self._waiting is waiting:
            self._waiting = None  # keys asked for from now on make the next batch
        keys = list(waiting)
        self.batches += 1
        self.keys += len(keys)
        try:
            found = await self._load(keys)
        except asyncio.CancelledError:
            for futures in waiting.values():
                for future in futures:
                    future.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - every caller gets the failure, as a read alone would
            for futures in waiting.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
            return
        for key, futures in waiting.items():
            for future in futures:
                if future.done():
                    continue  # its caller was cancelled
                if key in found:
                    future.set_result(found[key])
                else:
                    future.set_exception(LookupError(f"the batch load gave nothing for {key!r}"))
