"""The profile table: a py-spy or cProfile profile read back, printed by function and by area."""

from __future__ import annotations

import collections
import re
from dataclasses import dataclass
from pathlib import Path

from bench.gateway.config import REPO
from bench.gateway.profiler import ProfileSpec


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


def print_server_profile(spec: ProfileSpec, cpu_us: float, requests: int, top: int) -> None:
    """The window's profile from ``spec.out``, with µs/req as the share of the measured ``cpu_us``."""
    if spec.mode == "py-spy":
        rows, samples = pyspy_profile(Path(spec.out))
        header = f"server CPU profile: py-spy, {samples:,} on-CPU samples in the window; µs/req = share × {cpu_us} µs"
    else:
        rows, _ = cprofile_profile(Path(spec.out), requests)
        header = (
            f"server CPU profile: cProfile (adds its own overhead, heaviest on small functions); "
            f"µs/req = share × {cpu_us} µs"
        )
    print_profile(rows, float(cpu_us), header, top)
    print(f"  (raw profile kept in {spec.out})")
