"""The gateway benchmark: the real server, real PostgreSQL and Redis, safe-mode signed text messages.

    python -m bench.gateway [--seconds 10] [--connections 64] [--users 5000] [--client aiohttp|raw]
                            [--profile [auto|py-spy|cprofile]] [--py-spy PATH] [--top 25]

What it does, in order:

1. Prepares its own database ``longtuan_bench`` (created if missing, Alembic upgrade) and a Redis
   key prefix of its own (``lt-bench-<random>:``), whose keys it deletes at the end.
2. Starts ``python -m bot.cli serve`` (uvloop) as a subprocess on a free loopback port, with a fresh
   token, app id and EncodingAESKey, and waits for ``/healthz`` to answer 200.
3. A load generator in its own process (spawned, with uvloop) pre-computes every signed and
   encrypted payload before the clock starts (distinct MsgIds; users drawn from ``--users``
   openids; a realistic mix of FAQ questions, help and unknown text). It holds ``--connections``
   keep-alive connections, each sending one message after the other (closed loop). Users are
   partitioned between the connections: like a real user, nobody writes again before the previous
   reply arrived, so the per-user lock is never contended by the benchmark itself.
   ``--client raw`` writes the same pre-rendered HTTP/1.1 requests on asyncio streams instead of
   aiohttp's ClientSession: about 85 µs of client CPU per request instead of about 300, which
   matters on a 2-core machine once the server gets near its target (4,000 requests/s).
4. A warm-up (2 s, not measured), then the measured window. Server CPU is the delta of
   utime+stime (and children) of the server process from ``/proc/<pid>/stat`` over the window,
   divided by the requests completed in the window. Replies are checked: any non-200, any answer
   that is not a reply XML, and a sample of replies decrypted and verified with the simulator's
   ``read_reply`` (signature, app id, addressed to the sender) all count as errors.
5. Prints a table, then as the last line one JSON object.

``--profile`` samples the server during the measured window (py-spy if it is on PATH or given with
``--py-spy``, otherwise cProfile switched on and off by signals through ``bench.profiled_server``)
and prints the top functions by own time, converted to µs per request. Figures measured with a
profiler attached are a little higher than without.

The exit status is 0 when the run completed without errors, 1 when requests failed, 2 when the
benchmark itself could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import ctypes
import functools
import json
import math
import multiprocessing as mp
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType
from typing import Any, cast
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
DB_NAME = "longtuan_bench"
PG_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DATABASE_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = "redis://127.0.0.1:6379/0"
ACCOUNT = "gh_longtuan"
HEADERS = {"Content-Type": "text/xml"}
PROFILE_OUT_ENV = "LONGTUAN_BENCH_PROFILE_OUT"

#: What young people write, with weights: the FAQ questions of the issue, help, and text the bot
#: does not know (the fallback). About 15 % unknown.
TEXTS: tuple[tuple[str, int], ...] = (
    ("夜校怎么报名", 20),
    ("志愿时长怎么查", 18),
    ("帮助", 14),
    ("实习岗位", 16),
    ("青年大学习", 16),
    ("今天天气怎么样", 4),
    ("你们周末有人值班吗？", 4),
    ("哈哈哈哈哈", 3),
    ("我想问一下那个东西还有没有", 3),
    ("ok", 2),
)


# --------------------------------------------------------------------------------------------
# /proc readings (Linux)


def _die_with_parent() -> None:
    """PR_SET_PDEATHSIG: a child gets SIGTERM if the benchmark is killed without a chance to clean up."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                children = Path(f"/proc/{current}/task/{tid}/children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                found.append(child)
                stack.append(child)
    return found


def process_cpu_ticks(pid: int) -> tuple[int, int]:
    """(user, system) clock ticks of ``pid``, its reaped children and its live descendants."""
    user = system = 0
    for index, p in enumerate([pid, *_descendants(pid)]):
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            if index == 0:
                raise
            continue
        rest = stat[stat.rindex(")") + 2 :].split()
        # Fields 14-17 of proc(5): utime stime cutime cstime; ``rest`` starts at field 3.
        user += int(rest[11]) + int(rest[13])
        system += int(rest[12]) + int(rest[14])
    return user, system


def process_rss_mb(pid: int) -> float:
    total_kb = 0
    for p in [pid, *_descendants(pid)]:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
    return total_kb / 1024


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


TICKS_PER_S = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------------------------
# The load generator (its own process)


@dataclass(frozen=True, slots=True)
class LoadConfig:
    url: str
    token: str
    app_id: str
    aes_key: str
    connections: int
    users: int
    seconds: float
    warmup: float
    seed: int
    parent_pid: int
    #: "aiohttp" (ClientSession, TCPConnector(limit=connections)) or "raw" (pre-rendered HTTP/1.1
    #: requests on asyncio streams: a fraction of the client CPU, for when the client is the limit).
    client: str = "aiohttp"
    #: Keep every n-th reply of the window for decryption and verification after the window.
    sample_every: int = 16
    max_samples: int = 4000


@dataclass(frozen=True, slots=True)
class ProfileSpec:
    mode: str = "none"  # none | py-spy | cprofile
    py_spy: str = ""
    out: str = ""


@dataclass(slots=True)
class Payload:
    url: Any  # yarl.URL, pre-encoded (aiohttp client)
    body: bytes
    user: str
    request: bytes = b""  # the whole HTTP request (raw client)


class Pool:
    """One connection's payloads, consumed in order."""

    __slots__ = ("items", "pos")

    def __init__(self) -> None:
        self.items: list[Payload] = []
        self.pos = 0

    def take(self) -> Payload | None:
        if self.pos >= len(self.items):
            return None
        item = self.items[self.pos]
        self.pos += 1
        return item

    @property
    def left(self) -> int:
        return len(self.items) - self.pos

    def extend(self, items: list[Payload]) -> None:
        self.items = self.items[self.pos :] + items
        self.pos = 0


class Generator:
    """Signed, encrypted safe-mode text messages, made with the project's WeChat simulator."""

    def __init__(self, cfg: LoadConfig) -> None:
        import aiohttp
        from yarl import URL

        from bot.channels.wechat.simulator import WeChatSimulator

        self._url_type = URL
        self.cfg = cfg
        host_port = cfg.url.split("/")[2]
        self.path = "/" + cfg.url.split("/", 3)[3]
        self.head = f"Host: {host_port}\r\nContent-Type: text/xml\r\nContent-Length: "
        # ``signed`` never touches the HTTP session; the requests go through the load loop's own.
        self.sim = WeChatSimulator(
            cast(aiohttp.ClientSession, None), cfg.url, cfg.token, app_id=cfg.app_id, aes_key=cfg.aes_key, mode="safe"
        )
        self.rng = random.Random(cfg.seed)
        # Real openids are 28 characters: "o" and 27 of URL-safe base64.
        openids = [
            "o" + base64.urlsafe_b64encode(self.rng.randbytes(21)).decode()[:27] for _ in range(max(1, cfg.users))
        ]
        n = len(openids)
        self.partitions = [
            [openids[i] for i in range(w, n, cfg.connections)] or [openids[w % n]] for w in range(cfg.connections)
        ]
        self.texts = [t for t, _ in TEXTS]
        self.weights = [w for _, w in TEXTS]
        self.made = 0
        self.seconds = 0.0

    def make(self, worker: int, count: int) -> list[Payload]:
        from bot.channels.wechat.simulator import text_xml

        started = time.perf_counter()
        users = self.partitions[worker]
        choices = self.rng.choices(self.texts, self.weights, k=count)
        out: list[Payload] = []
        for text in choices:
            user = self.rng.choice(users)
            query, body = self.sim.signed(text_xml(user, text, account=ACCOUNT))
            if self.cfg.client == "raw":
                line = f"POST {self.path}?{urlencode(query)} HTTP/1.1\r\n{self.head}{len(body)}\r\n\r\n"
                out.append(Payload(None, body, user, line.encode() + body))
            else:
                out.append(Payload(self._url_type(f"{self.cfg.url}?{urlencode(query)}", encoded=True), body, user))
        self.made += count
        self.seconds += time.perf_counter() - started
        return out


@dataclass(slots=True)
class Phase:
    sample_every: int
    max_samples: int
    stop: bool = False
    done: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    samples: list[tuple[str, bytes]] = field(default_factory=list)
    exhausted: bool = False
    ended: asyncio.Event = field(default_factory=asyncio.Event)


class AiohttpSender:
    def __init__(self, http: Any) -> None:
        self.http = http

    async def send(self, p: Payload) -> tuple[int, bytes]:
        async with self.http.post(p.url, data=p.body, headers=HEADERS) as resp:
            return int(resp.status), bytes(await resp.read())

    def close(self) -> None:
        pass


class RawSender:
    """One keep-alive HTTP/1.1 connection writing pre-rendered requests; re-opened after an error."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, p: Payload) -> tuple[int, bytes]:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        try:
            self.writer.write(p.request)
            head = await self.reader.readuntil(b"\r\n\r\n")
            lower = head.lower()
            at = lower.find(b"\r\ncontent-length:")
            if at < 0:
                raise ValueError("reply without Content-Length")
            body = await self.reader.readexactly(int(head[at + 17 : head.index(b"\r\n", at + 2)]))
            if b"\r\nconnection: close" in lower:
                self.close()
            return int(head[9:12]), body
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


Sender = AiohttpSender | RawSender


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
        phase.latencies.append(perf() - started)
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


def _start_profiler(spec: ProfileSpec, pid: int) -> subprocess.Popen[bytes] | None:
    if spec.mode == "py-spy":
        cmd = [spec.py_spy, "record", "--pid", str(pid), "--rate", "250", "--nonblocking", "--function"]
        cmd += ["--format", "raw", "--output", spec.out, "--duration", "600"]
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_die_with_parent)
    if spec.mode == "cprofile":
        os.kill(pid, signal.SIGUSR1)
    return None


def _stop_profiler(spec: ProfileSpec, pid: int, proc: subprocess.Popen[bytes] | None) -> str:
    """Stop sampling; returns py-spy's complaint, if any."""
    if spec.mode == "cprofile":
        os.kill(pid, signal.SIGUSR2)
        return ""
    if proc is None:
        return ""
    proc.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return "" if proc.returncode == 0 and Path(spec.out).exists() else err.decode(errors="replace")[-2000:]


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

        profiler = _start_profiler(spec, pid)
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
        profile_error = _stop_profiler(spec, pid, profiler)
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
    _die_with_parent()
    if os.getppid() != cfg.parent_pid:
        return
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


# --------------------------------------------------------------------------------------------
# The orchestrator (the main process)


class BenchError(Exception):
    """The benchmark could not run (services down, server did not start ...)."""


def prepare_database() -> None:
    """``createdb longtuan_bench`` if missing, then the Alembic upgrade."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def create() -> None:
        engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                exists = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": DB_NAME})
                if not exists:
                    await conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
        finally:
            await engine.dispose()

    try:
        asyncio.run(create())
    except OSError as exc:
        raise BenchError(f"PostgreSQL at 127.0.0.1:5432 is unreachable ({exc}); run scripts/services.sh") from exc
    from bot.db.migrate import upgrade

    upgrade(DATABASE_URL)


def check_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise BenchError(f"Redis at {REDIS_URL} is unreachable ({exc}); run scripts/services.sh") from exc
    finally:
        client.close()


def delete_redis_keys(prefix: str) -> int:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    deleted = 0
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}*", count=2000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += int(client.unlink(*batch))
                batch = []
        if batch:
            deleted += int(client.unlink(*batch))
    finally:
        client.close()
    return deleted


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``longtuan serve`` in a subprocess of its own session; always stopped by ``stop``."""

    def __init__(self, port: int, env: dict[str, str], log_path: Path, profile: ProfileSpec, workers: int = 1) -> None:
        self.port = port
        self.log_path = log_path
        module = "bench.profiled_server" if profile.mode == "cprofile" else "bot.cli"
        cmd = [sys.executable, "-m", module, "serve", "--host", "127.0.0.1", "--port", str(port)]
        if workers > 1:
            cmd += ["--workers", str(workers)]
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=log_path.parent,  # no stray .env or SQLite file; everything comes from env
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_healthy(self, timeout: float = 90.0) -> None:
        url = f"http://127.0.0.1:{self.port}/healthz"
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"the server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}: {exc.read()[:200].decode(errors='replace')}"
            except (urllib.error.URLError, OSError) as exc:
                last = str(exc)
            time.sleep(0.1)
        raise BenchError(f"/healthz did not answer 200 within {timeout:.0f} s (last: {last}):\n{self.log_tail()}")

    def get(self, path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
            return str(resp.read().decode())

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)  # graceful: drain, flush the users, close
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything left in its session
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self._log.close()


def server_env(port: int, prefix: str, token: str, app_id: str, aes_key: str, profile: ProfileSpec) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGTUAN_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env.update(
        LONGTUAN_DATABASE_URL=DATABASE_URL,
        LONGTUAN_REDIS_URL=REDIS_URL,
        LONGTUAN_REDIS_PREFIX=prefix,
        LONGTUAN_WECHAT_TOKEN=token,
        LONGTUAN_WECHAT_APP_ID=app_id,
        LONGTUAN_WECHAT_AES_KEY=aes_key,
        LONGTUAN_WECHAT_API_BASE="http://127.0.0.1:9",
        LONGTUAN_LOG_LEVEL="WARNING",
        LONGTUAN_PORT=str(port),
    )
    if profile.mode == "cprofile":
        env[PROFILE_OUT_ENV] = profile.out
    return env


def _metric_counts(text: str, name: str, label: str) -> dict[str, float]:
    pattern = re.compile(rf'^{name}\{{[^}}]*\b{label}="([^"]*)"[^}}]*\}} ([0-9.eE+-]+)$', re.M)
    out: dict[str, float] = collections.defaultdict(float)
    for value, count in pattern.findall(text):
        out[value] += float(count)
    return dict(out)


def _log_summary(log_path: Path) -> collections.Counter[str]:
    events: collections.Counter[str] = collections.Counter()
    with contextlib.suppress(OSError):
        for line in log_path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                if line.strip() and not line.startswith("龙团 listening"):
                    events[line[:100]] += 1
                continue
            if isinstance(record, dict) and record.get("level") in ("WARNING", "ERROR", "CRITICAL"):
                events[f"{record.get('level')} {record.get('logger')}: {record.get('event')}"] += 1
    return events


# --------------------------------------------------------------------------------------------
# Profiles


@dataclass(slots=True)
class ProfileRow:
    function: str
    where: str
    own: float  # share of the profiled CPU, 0..1
    total: float  # inclusive share, 0..1 (py-spy) or cumulative time share (cProfile)
    calls_per_request: float | None = None


_SITE = re.compile(r".*/(?:site|dist)-packages/")


def _short(path: str) -> str:
    path = _SITE.sub("", path)
    repo = str(REPO) + "/"
    if path.startswith(repo):
        return path[len(repo) :]
    return re.sub(r".*/lib/python3\.\d+/", "", path)


AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("HTTP (aiohttp, yarl, multidict)", ("aiohttp/", "yarl/", "multidict/", "propcache/")),
    ("Redis client (redis-py)", ("redis/",)),
    ("crypto (wechatpy, cryptography, hashlib)", ("wechatpy/", "cryptography/", "hashlib", "hmac", "base64")),
    ("XML (defusedxml, ElementTree)", ("defusedxml/", "xml/")),
    ("jieba", ("jieba/",)),
    ("database (SQLAlchemy, asyncpg)", ("sqlalchemy/", "asyncpg/")),
    ("metrics (prometheus_client)", ("prometheus_client/",)),
    ("logging", ("logging/",)),
    ("event loop (asyncio, uvloop; C-level I/O)", ("asyncio/", "uvloop/", "selectors", "<uvloop", "<native>")),
    ("project (bot/, handlers/)", ("bot/", "handlers/", "content/")),
)


#: cProfile names C functions "<method 'Parse' of 'pyexpat.xmlparser' objects>": sorted by module.
BUILTIN_AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("XML (defusedxml, ElementTree)", ("pyexpat", "_elementtree")),
    ("crypto (wechatpy, cryptography, hashlib)", ("_hashlib", "ciphers", "_hmac", "binascii", "openssl")),
    ("event loop (asyncio, uvloop; C-level I/O)", ("_asyncio", "uvloop", "socket", "select", "_contextvars")),
    ("Redis client (redis-py)", ("hiredis",)),
    ("database (SQLAlchemy, asyncpg)", ("asyncpg", "sqlalchemy")),
)


def _area(where: str, function: str = "") -> str:
    if where == "(built-in)":
        for name, needles in BUILTIN_AREAS:
            if any(n in function for n in needles):
                return name
        return "other (built-ins: isinstance, str methods, ...)"
    for name, needles in AREAS:
        if any(where.startswith(n) or f"/{n}" in where for n in needles):
            return name
    return "other (stdlib: uuid, json, dataclasses, ...)"


_FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def pyspy_profile(path: Path) -> tuple[list[ProfileRow], int]:
    """Own and inclusive sample shares per function from py-spy's raw (collapsed-stack) output."""
    own: collections.Counter[tuple[str, str]] = collections.Counter()
    incl: collections.Counter[tuple[str, str]] = collections.Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames: list[tuple[str, str]] = []
        for frame in stack.split(";"):
            m = _FRAME.match(frame)
            if m is None:
                continue  # "process ..." / "thread ..." headers
            where = _short(m["file"]) + (f":{m['line']}" if m["line"] else "")
            frames.append((m["name"], where))
        if not frames:
            continue
        if frames[-1][0] == "run_app":
            # No Python frame above the loop: uvloop/libuv C code, socket syscalls, Cython callbacks.
            frames.append(("(native: uvloop/libuv, socket I/O)", "uvloop/"))
        total += count
        own[frames[-1]] += count
        for key in set(frames):
            incl[key] += count
    rows = [ProfileRow(name, where, c / total, incl[(name, where)] / total) for (name, where), c in own.items()]
    rows.sort(key=lambda r: r.own, reverse=True)
    return rows, total


def cprofile_profile(path: Path, requests: int) -> tuple[list[ProfileRow], int]:
    import pstats

    stats = pstats.Stats(str(path))
    profile = stats.get_stats_profile()
    total = profile.total_tt or 1.0
    rows: list[ProfileRow] = []
    for name, fp in profile.func_profiles.items():
        calls = int(str(fp.ncalls).split("/")[0])
        where = f"{_short(fp.file_name)}:{fp.line_number}" if fp.file_name != "~" else "(built-in)"
        rows.append(
            ProfileRow(name, where, fp.tottime / total, fp.cumtime / total, calls / requests if requests else None)
        )
    rows.sort(key=lambda r: r.own, reverse=True)
    return rows, sum(int(str(fp.ncalls).split("/")[0]) for fp in profile.func_profiles.values())


def print_profile(rows: list[ProfileRow], us_per_request: float, header: str, top: int = 25) -> None:
    print()
    print(header)
    with_calls = any(r.calls_per_request is not None for r in rows)
    print(f"  {'own %':>6} {'µs/req':>7} {'incl %':>7} {'calls/req' if with_calls else '':>9}  function")
    if with_calls:
        print("  (cProfile counts every resumption of a coroutine as a call)")
    else:
        print("  (incl % counts the samples where the function is on the stack; a task resumed by the loop")
        print("   shows its coroutine chain only, so the callers of a task are not included)")
    for r in rows[:top]:
        calls = f"{r.calls_per_request:9.2f}" if r.calls_per_request is not None else " " * 9
        print(
            f"  {r.own * 100:6.1f} {r.own * us_per_request:7.1f} {r.total * 100:7.1f} {calls}  {r.function}  {r.where}"
        )
    areas: dict[str, float] = collections.defaultdict(float)
    for r in rows:
        areas[_area(r.where, r.function)] += r.own
    print()
    print("  own time by area:")
    for name, share in sorted(areas.items(), key=lambda kv: -kv[1]):
        print(f"    {share * 100:5.1f} %  {share * us_per_request:6.1f} µs/req  {name}")


def find_py_spy(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    found = shutil.which("py-spy")
    if found:
        return found
    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.exists() else None


# --------------------------------------------------------------------------------------------


def _fmt(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def report(
    args: argparse.Namespace,
    res: dict[str, Any],
    rss_mb: float,
    outcomes: dict[str, float],
    routes: dict[str, float],
    log_events: collections.Counter[str],
    profiled: str,
) -> dict[str, Any]:
    n = int(res["requests"])
    seconds = float(res["seconds"])
    errors = int(sum(res["errors"].values()))
    server_cpu = float(res["server_user_s"]) + float(res["server_sys_s"])
    lat = res["latency_ms"]
    rps = n / seconds if seconds else 0.0
    cpu_us = server_cpu / n * 1e6 if n else float("nan")
    summary: dict[str, Any] = {
        "requests_per_s": round(rps, 1),
        "cpu_us_per_request": round(cpu_us, 1),
        "p50_ms": round(lat["p50"], 2),
        "p90_ms": round(lat["p90"], 2),
        "p99_ms": round(lat["p99"], 2),
        "errors": errors,
        "connections": args.connections,
        "server_rss_mb": round(rss_mb, 1),
        "requests": n,
        "seconds": round(seconds, 2),
        "users": args.users,
        "client": args.client,
        "workers": args.workers,
        "client_cpu_us_per_request": round(float(res["client_cpu_s"]) / n * 1e6, 1) if n else None,
        "profiled": profiled or None,
    }
    title = (
        f"龙团 gateway benchmark: safe-mode text messages, {args.connections} connections ({args.client} client), "
        f"{args.users} users"
    )
    print()
    print(title)
    print("─" * 78)
    rows = [
        ("measured window", f"{seconds:.2f} s after {res['warmup']['seconds']:.1f} s warm-up"),
        ("requests", f"{n:,}   ({_fmt(rps)} /s)"),
        (
            "latency (client)",
            f"p50 {lat['p50']:.2f} ms   p90 {lat['p90']:.2f} ms   p99 {lat['p99']:.2f} ms   "
            f"max {lat['max']:.1f} ms   mean {lat['mean']:.2f} ms",
        ),
        ("errors", f"{errors:,}" + (f"   {res['errors']}" if errors else "")),
        ("replies verified", f"{res['samples_verified']:,} of {res['samples_checked']:,} sampled (decrypted, signed)"),
        (
            "server CPU",
            f"{_fmt(cpu_us)} µs/request   (user {res['server_user_s'] / n * 1e6:.0f} + sys "
            f"{res['server_sys_s'] / n * 1e6:.0f}; {server_cpu / seconds * 100:.0f} % of one core)"
            if n
            else "-",
        ),
        ("server RSS", f"{rss_mb:.1f} MB at the end"),
        (
            "client CPU",
            f"{summary['client_cpu_us_per_request']} µs/request "
            f"({res['client_cpu_s'] / seconds * 100:.0f} % of one core)",
        ),
        (
            "machine",
            f"{res['machine_busy_cores']:.2f} of {os.cpu_count()} cores busy in the window: server "
            f"{server_cpu / seconds:.2f}, client {res['client_cpu_s'] / seconds:.2f}, the rest "
            f"{res['machine_busy_cores'] - (server_cpu + res['client_cpu_s']) / seconds:.2f} "
            f"(Redis, PostgreSQL, other work); load average before {res.get('loadavg_before', '?')}",
        ),
        (
            "payloads",
            f"{res['payloads_made']:,} pre-signed in {res['payload_seconds']:.1f} s (outside the window)",
        ),
        ("Redis", f"{res.get('redis_keys_deleted', 0):,} keys of this run deleted"),
        ("server outcomes", ", ".join(f"{k} {int(v):,}" for k, v in sorted(outcomes.items())) + "  (whole run)"),
        ("routes", ", ".join(f"{k} {int(v):,}" for k, v in sorted(routes.items(), key=lambda kv: -kv[1]))),
    ]
    if res["warmup"]["errors"]:
        rows.append(("warm-up errors", str(res["warmup"]["errors"])))
    if res["exhausted"]:
        rows.append(("WARNING", "a connection ran out of pre-signed payloads; the window ended early"))
    if log_events:
        rows.append(("server log", "; ".join(f"{e} ×{c}" for e, c in log_events.most_common(5))))
    if profiled:
        rows.append(("note", f"profiled with {profiled}: CPU and latency are above an unprofiled run"))
    for label, value in rows:
        print(f"  {label:<17} {value}")
    targets = f"targets: ≤ 250 µs CPU/request → {'met' if cpu_us <= 250 else 'NOT met'}; "
    targets += f"p99 < 30 ms at 64 connections → {'met' if lat['p99'] < 30 else 'NOT met'}"
    print(f"  {targets}")
    return summary


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.gateway", description=__doc__.split("\n\n")[0] if __doc__ else "")
    p.add_argument("--seconds", type=float, default=10.0, help="measured window (default 10)")
    p.add_argument("--workers", type=int, default=1, help="server processes (longtuan serve --workers; default 1)")
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up, not measured (default 2)")
    p.add_argument("--connections", type=int, default=64, help="concurrent keep-alive connections (default 64)")
    p.add_argument("--users", type=int, default=5000, help="distinct openids (default 5000)")
    p.add_argument(
        "--client",
        choices=["aiohttp", "raw"],
        default="aiohttp",
        help="aiohttp ClientSession (default) or pre-rendered HTTP/1.1 on asyncio streams (far less client CPU)",
    )
    p.add_argument("--seed", type=int, default=None, help="payload mix seed (default random)")
    p.add_argument(
        "--profile",
        nargs="?",
        const="auto",
        choices=["auto", "py-spy", "cprofile"],
        help="profile the server during the window: py-spy if available (auto), or cProfile",
    )
    p.add_argument("--py-spy", dest="py_spy", help="path of the py-spy binary (default: PATH, the venv)")
    p.add_argument("--top", type=int, default=25, help="functions shown in the profile (default 25)")
    args = p.parse_args(argv)
    if args.seconds <= 0 or args.warmup < 0 or args.connections < 1 or args.users < 1:
        p.error("--seconds must be > 0, --warmup >= 0, --connections and --users >= 1")
    return args


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def run(args: argparse.Namespace) -> int:
    prefix = f"lt-bench-{uuid.uuid4().hex[:10]}:"
    token = f"bench-{secrets_hex(8)}"
    app_id = f"wx{secrets_hex(8)}"
    aes_key = base64.b64encode(os.urandom(32)).decode().rstrip("=")  # 43 characters
    workdir = Path(tempfile.mkdtemp(prefix="longtuan-bench-"))

    spec = ProfileSpec()
    if args.profile:
        py_spy = find_py_spy(args.py_spy) if args.profile in ("auto", "py-spy") else None
        if args.profile == "py-spy" and py_spy is None:
            raise BenchError("py-spy not found: `pip install py-spy` or pass --py-spy PATH")
        if py_spy is not None:
            spec = ProfileSpec("py-spy", py_spy, str(workdir / "profile.txt"))
        else:
            spec = ProfileSpec("cprofile", "", str(workdir / "profile.pstats"))

    server: Server | None = None
    loadgen: Any = None
    redis_used = False
    try:
        print(f"preparing database {DB_NAME} and Redis prefix {prefix} ...", file=sys.stderr)
        loadavg = Path("/proc/loadavg").read_text().split()[0]
        check_redis()
        prepare_database()
        redis_used = True

        port = free_port()
        cfg = LoadConfig(
            url=f"http://127.0.0.1:{port}/wechat",
            token=token,
            app_id=app_id,
            aes_key=aes_key,
            connections=args.connections,
            users=args.users,
            seconds=args.seconds,
            warmup=args.warmup,
            seed=args.seed if args.seed is not None else random.randrange(2**32),
            parent_pid=os.getpid(),
            client=args.client,
        )
        ctx = mp.get_context("spawn")
        ours, theirs = ctx.Pipe()
        loadgen = ctx.Process(target=loadgen_main, args=(cfg, theirs), name="bench-loadgen", daemon=True)
        loadgen.start()  # makes the warm-up payloads while the server starts

        print(f"starting the server on 127.0.0.1:{port} ...", file=sys.stderr)
        server = Server(
            port, server_env(port, prefix, token, app_id, aes_key, spec), workdir / "server.log", spec, args.workers
        )
        server.wait_healthy()

        def receive(timeout: float) -> tuple[Any, ...]:
            deadline = time.monotonic() + timeout
            while not ours.poll(0.2):
                if not loadgen.is_alive():
                    raise BenchError(f"the load generator died (exit {loadgen.exitcode})")
                if server is not None and server.proc.poll() is not None:
                    raise BenchError(f"the server exited with {server.proc.returncode}:\n{server.log_tail()}")
                if time.monotonic() > deadline:
                    raise BenchError("the load generator did not answer in time")
            message = ours.recv()
            if message[0] == "error":
                raise BenchError(f"the load generator failed:\n{message[1]}")
            return cast(tuple[Any, ...], message)

        receive(120)  # "ready": the first payloads are made
        print(
            f"warm-up {args.warmup:g} s, then {args.seconds:g} s measured, {args.connections} connections ...",
            file=sys.stderr,
        )
        ours.send(("go", server.pid, spec))
        _, res = receive(args.warmup + args.seconds * 4 + 120)

        res["loadavg_before"] = loadavg
        rss = process_rss_mb(server.pid)
        metrics = server.get("/metrics")
        outcomes = _metric_counts(metrics, "longtuan_requests_total", "outcome")
        routes = _metric_counts(metrics, "longtuan_handler_seconds_count", "route")
        server.stop()
        log_events = _log_summary(server.log_path)
        res["redis_keys_deleted"] = delete_redis_keys(prefix)
        redis_used = False
        if spec.mode == "py-spy" and res.get("profile_error"):
            print(f"py-spy failed: {res['profile_error']}", file=sys.stderr)

        summary = report(args, res, rss, outcomes, routes, log_events, spec.mode if spec.mode != "none" else "")
        if spec.mode != "none" and Path(spec.out).exists() and res["requests"]:
            cpu_us = summary["cpu_us_per_request"]
            if spec.mode == "py-spy":
                rows, samples = pyspy_profile(Path(spec.out))
                header = (
                    f"server CPU profile: py-spy, {samples:,} on-CPU samples in the window; "
                    f"µs/req = share × {cpu_us} µs"
                )
            else:
                rows, _ = cprofile_profile(Path(spec.out), int(res["requests"]))
                header = (
                    f"server CPU profile: cProfile (adds its own overhead, heaviest on small functions); "
                    f"µs/req = share × {cpu_us} µs"
                )
            print_profile(rows, float(cpu_us), header, args.top)
            print(f"  (raw profile kept in {spec.out})")
        print(json.dumps(summary, ensure_ascii=False))
        return 1 if summary["errors"] else 0
    finally:
        if loadgen is not None and loadgen.is_alive():
            loadgen.terminate()
            loadgen.join(5)
            if loadgen.is_alive():
                loadgen.kill()
        if server is not None:
            server.stop()
        if redis_used:  # an interrupted run: the normal path has cleaned up before its report
            with contextlib.suppress(Exception):
                deleted = delete_redis_keys(prefix)
                print(f"deleted {deleted:,} Redis keys under {prefix}", file=sys.stderr)
        if spec.mode == "none":
            shutil.rmtree(workdir, ignore_errors=True)


def secrets_hex(n: int) -> str:
    return os.urandom(n).hex()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    # Ctrl-C stops the run cleanly even where SIGINT came in ignored (a job started with "&").
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGHUP, _on_term)
    try:
        code = run(args)
    except BenchError as exc:
        print(f"bench.gateway: {exc}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("bench.gateway: interrupted; server stopped, Redis keys deleted", file=sys.stderr)
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
