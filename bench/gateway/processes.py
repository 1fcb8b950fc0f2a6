"""Linux processes: CPU ticks and RSS read from /proc, and children that die with their parent."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from pathlib import Path


def die_with_parent() -> None:
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
