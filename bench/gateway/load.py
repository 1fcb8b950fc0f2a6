"""The load generator process: closed-loop workers, warm-up, the measured window, reply verification."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import math
import os
import resource
import signal
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, cast

from bench.gateway.config import ACCOUNT, LoadConfig
from bench.gateway.payloads import Generator, Payload, Pool
from bench.gateway.processes import TICKS_PER_S, die_with_parent, machine_ticks, process_cpu_ticks
from bench.gateway.profiler import ProfileSpec, start_profiler, stop_profiler
from bench.gateway.senders import AiohttpSender, RawSender, Sender


@dataclass(slots=True)
class Phase:
    sample_every: int
    max_samples: int
    stop: bool = False
    done: int = 0
    latencies: list[float] = field(default_factory=list)
    #: The same latencies by the text sent: which messages make the tail.
    by_text: dict[str, list[float]] = field(default_factory=dict)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    samples: list[tuple[str, bytes]] = field(default_factory=list)
    exhausted: bool = False
    ended: asyncio.Event = field(default_factory=asyncio.Event)


async def _worker(sender: Sender, pool: Pool, phase: Phase, refill: Callable[[], list[Payload]] | None) -> None:
    import aiohttp

    perf = time.perf_counter
    while not phase.stop:
        p = pool.take()
        if p is None:
            if refill is None:
                phase.exhausted = True
                phase.ended.set()
                return
            pool.extend(refill())
            continue
        started = perf()
        status, body = 0, b""
        try:
            status, body = await sender.send(p)
        except (aiohttp.ClientError, TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            body = type(exc).__name__.encode()
        if phase.stop:
            return  # completed after the end of the phase: not counted
        took = perf() - started
        phase.latencies.append(took)
        phase.by_text.setdefault(p.text, []).append(took)
        if status != 200:
            phase.errors[f"HTTP {status}" if status else f"client {body.decode()}"] += 1
        elif not body.startswith(b"<xml>"):
            phase.errors["no reply (" + body[:20].decode(errors="replace") + ")"] += 1
        elif phase.done % phase.sample_every == 0 and len(phase.samples) < phase.max_samples:
            phase.samples.append((p.user, body))
        phase.done += 1


async def _settle(tasks: list[asyncio.Task[None]], grace: float = 15.0) -> None:
    """Let the requests in flight finish (not counted); cancel what a stuck server still holds."""
    _, pending = await asyncio.wait(tasks, timeout=grace)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            raise cast(BaseException, task.exception())


def _percentile(ordered: Sequence[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def _drive(cfg: LoadConfig, gen: Generator, pools: list[Pool], pid: int, spec: ProfileSpec) -> dict[str, Any]:
    import aiohttp

    from bot.errors import RequestRefused

    result: dict[str, Any] = {}
    http: aiohttp.ClientSession | None = None
    senders: list[Sender]
    if cfg.client == "raw":
        host, _, port = cfg.url.split("/")[2].partition(":")
        senders = [RawSender(host, int(port)) for _ in range(cfg.connections)]
    else:
        connector = aiohttp.TCPConnector(limit=cfg.connections, limit_per_host=cfg.connections, ttl_dns_cache=None)
        http = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10))
        senders = [AiohttpSender(http)] * cfg.connections
    try:
        # Warm-up: connections opened, server caches and the allocator warm. Refilled inline if short.
        warm = Phase(cfg.sample_every, 0)
        started = time.perf_counter()
        tasks = [
            asyncio.create_task(_worker(senders[w], pools[w], warm, functools.partial(gen.make, w, 64)))
            for w in range(cfg.connections)
        ]
        await asyncio.sleep(cfg.warmup)
        warm.stop = True
        warm_seconds = time.perf_counter() - started
        await _settle(tasks)
        rate = warm.done / warm_seconds if warm_seconds > 0 else 0.0
        result["warmup"] = {"requests": warm.done, "seconds": warm_seconds, "errors": dict(warm.errors)}

        # Enough payloads for the window at twice the warm-up rate, made before the clock starts.
        per_worker = math.ceil(max(rate, 500.0) * cfg.seconds * 2.0 / cfg.connections) + 16
        for w, pool in enumerate(pools):
            if pool.left < per_worker:
                pool.extend(gen.make(w, per_worker - pool.left))

        profiler = start_profiler(spec, pid)
        if profiler is not None:
            await asyncio.sleep(0.5)  # py-spy attaches; the idle server gives it no samples
        window = Phase(cfg.sample_every, cfg.max_samples)
        cpu0, busy0, ru0 = process_cpu_ticks(pid), machine_ticks(), resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        tasks = [asyncio.create_task(_worker(senders[w], pools[w], window, None)) for w in range(cfg.connections)]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(window.ended.wait(), cfg.seconds)  # set when a pool runs dry
        window.stop = True
        t1 = time.perf_counter()
        cpu1, busy1, ru1 = process_cpu_ticks(pid), machine_ticks(), resource.getrusage(resource.RUSAGE_SELF)
        profile_error = stop_profiler(spec, pid, profiler)
        await _settle(tasks)
    finally:
        for sender in senders:
            sender.close()
        if http is not None:
            await http.close()

    # Verify the sampled replies: signature, decryption, app id, addressed to the sender.
    verified, bad = 0, collections.Counter[str]()
    for user, body in window.samples:
        try:
            fields = gen.sim.read_reply(body.decode())
        except (RequestRefused, KeyError, UnicodeDecodeError, ValueError) as exc:
            bad[f"reply does not verify ({type(exc).__name__})"] += 1
            continue
        if fields.get("MsgType") != "text" or fields.get("ToUserName") != user or not fields.get("Content"):
            bad["reply not a text to the sender"] += 1
        elif fields.get("FromUserName") != ACCOUNT:
            bad["reply from another account"] += 1
        else:
            verified += 1
    window.errors.update(bad)

    ordered = sorted(window.latencies)
    n = window.done
    result.update(
        requests=n,
        seconds=t1 - t0,
        exhausted=window.exhausted,
        latency_ms={
            "p50": _percentile(ordered, 0.50) * 1e3,
            "p90": _percentile(ordered, 0.90) * 1e3,
            "p99": _percentile(ordered, 0.99) * 1e3,
            "max": (ordered[-1] if ordered else float("nan")) * 1e3,
            "mean": (sum(ordered) / len(ordered) if ordered else float("nan")) * 1e3,
        },
        by_text_ms={
            text: {
                "share": len(lats) / max(1, len(ordered)),
                "p50": _percentile(sorted(lats), 0.50) * 1e3,
                "p99": _percentile(sorted(lats), 0.99) * 1e3,
            }
            for text, lats in window.by_text.items()
        },
        errors=dict(window.errors),
        samples_verified=verified,
        samples_checked=len(window.samples),
        server_user_s=(cpu1[0] - cpu0[0]) / TICKS_PER_S,
        server_sys_s=(cpu1[1] - cpu0[1]) / TICKS_PER_S,
        client_cpu_s=(ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime),
        machine_busy_cores=(busy1[0] - busy0[0]) / (busy1[1] - busy0[1]) * (os.cpu_count() or 1)
        if busy1[1] > busy0[1]
        else 0.0,
        payloads_made=gen.made,
        payload_seconds=gen.seconds,
        profile_error=profile_error,
    )
    return result


def loadgen_main(cfg: LoadConfig, conn: Connection) -> None:
    """Entry of the load process: make payloads, wait for "go", drive, send the result back."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    die_with_parent()
    if os.getppid() != cfg.parent_pid:
        return
    if cfg.cpu is not None:
        os.sched_setaffinity(0, {cfg.cpu})
    try:
        gen = Generator(cfg)
        pools = [Pool() for _ in range(cfg.connections)]
        first = max(8, math.ceil(cfg.warmup * 2500 / cfg.connections))
        for w, pool in enumerate(pools):
            pool.extend(gen.make(w, first))
        conn.send(("ready", gen.made))
        message = conn.recv()
        if message[0] != "go":
            return
        _, pid, spec = message
        with contextlib.suppress(ImportError):
            import uvloop

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        conn.send(("result", asyncio.run(_drive(cfg, gen, pools, pid, spec))))
    except Exception:  # noqa: BLE001 - reported to the parent, which prints it and fails the run
        with contextlib.suppress(OSError):
            conn.send(("error", traceback.format_exc()))
