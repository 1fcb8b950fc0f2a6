"""One timer watches the deadlines of every delivery in flight: each passed one answers, in time,
once; a stopped one never does."""

from __future__ import annotations

import asyncio
import time

from bot.gateway.pipeline import _Watch
from bot.model import Reply


class _Told:
    def __init__(self, name: str, log: list[tuple[str, float]]) -> None:
        self.name, self.log = name, log

    async def answer(self, reply: Reply | None, at: int, status: str) -> None:
        assert reply is None and status == "deferred"
        self.log.append((self.name, time.monotonic()))


async def test_passed_deadlines_answer_once_in_order_and_stopped_ones_never() -> None:
    watch, log = _Watch(), list[tuple[str, float]]()
    now = time.monotonic()
    a = watch.start(_Told("a", log), now + 0.05)
    b = watch.start(_Told("b", log), now + 0.06)
    c = watch.start(_Told("c", log), now + 0.07)
    early = watch.start(_Told("early", log), now + 0.02)  # before those waiting
    assert b.cancel() is True  # answered in time: nothing more happens
    await asyncio.sleep(0.2)
    for clock in (a, c, early):
        assert clock.task is not None
        await clock.task
    assert [name for name, _ in log] == ["early", "a", "c"]
    late = {name: at - now for name, at in log}
    assert 0.02 <= late["early"] < 0.02 + 0.05
    assert 0.05 <= late["a"] < 0.05 + _Watch.SLACK + 0.05
    assert 0.07 <= late["c"] < 0.07 + _Watch.SLACK + 0.05
    assert a.cancel() is False and c.cancel() is False, "their deadline had passed"
    assert not watch.waiting and watch.timer is None


async def test_a_deadline_already_gone_answers_at_once_and_the_watch_keeps_going() -> None:
    watch, log = _Watch(), list[tuple[str, float]]()
    now = time.monotonic()
    gone = watch.start(_Told("gone", log), now - 1)
    await asyncio.sleep(0.01)
    assert gone.task is not None
    await gone.task
    later = watch.start(_Told("later", log), time.monotonic() + 0.03)
    await asyncio.sleep(0.1)
    assert later.task is not None
    await later.task
    assert [name for name, _ in log] == ["gone", "later"]
