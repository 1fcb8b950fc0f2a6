"""Reads that many messages make at the same moment, sent to PostgreSQL as one statement.

Under load, many messages reach the same read in one event-loop turn: their Redis replies come
back together on one connection (``bot.session.resp``) and their handlers run one after the
other in that turn. Alone, each read is a round trip of its own: a ``write`` to PostgreSQL's
socket (the largest single cost of a 「我的时长」 in the server's profile, about a tenth of its
CPU), asyncpg's statement path, and a PostgreSQL backend woken for one statement. A ``Batcher``
collects the reads of one kind asked for in one turn and hands them to its ``load`` together, in
the next turn: one statement for all of them. A read asked alone goes alone, as soon as the turn
ends; nothing waits for company.

This is the data-loader pattern (as in GraphQL's DataLoader and its Python ports), kept to a few
lines here because those ports bring a GraphQL runtime or their own caching, and a cache has no
place in front of a ledger: every read here reaches the database.

Each key is loaded once per batch however many callers asked for it; each caller gets its own
answer or the load's exception. A caller that is cancelled leaves the others their answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


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
