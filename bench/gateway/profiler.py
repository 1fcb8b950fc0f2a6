"""The profiler attached to the server for the measured window: py-spy, or cProfile switched by signals."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.gateway.processes import die_with_parent

#: Where ``bench.profiled_server`` writes its cProfile stats (the same name is defined there).
PROFILE_OUT_ENV = "LONGTUAN_BENCH_PROFILE_OUT"


@dataclass(frozen=True, slots=True)
class ProfileSpec:
    mode: str = "none"  # none | py-spy | cprofile
    py_spy: str = ""
    out: str = ""


def find_py_spy(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    found = shutil.which("py-spy")
    if found:
        return found
    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.exists() else None


def start_profiler(spec: ProfileSpec, pid: int) -> subprocess.Popen[bytes] | None:
    if spec.mode == "py-spy":
        cmd = [spec.py_spy, "record", "--pid", str(pid), "--rate", "250", "--nonblocking", "--function"]
        cmd += ["--format", "raw", "--output", spec.out, "--duration", "600"]
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=die_with_parent)
    if spec.mode == "cprofile":
        os.kill(pid, signal.SIGUSR1)
    return None


def stop_profiler(spec: ProfileSpec, pid: int, proc: subprocess.Popen[bytes] | None) -> str:
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
