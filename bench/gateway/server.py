"""The server under test: ``longtuan serve`` as a subprocess, and what it reports afterwards."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.gateway.config import DATABASE_URL, REDIS_URL, REPO
from bench.gateway.errors import BenchError
from bench.gateway.processes import die_with_parent
from bench.gateway.profiler import PROFILE_OUT_ENV, ProfileSpec
from bot.sealing import new_key


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pinned(cpu: int) -> None:
    die_with_parent()
    os.sched_setaffinity(0, {cpu})


class Server:
    """``longtuan serve`` in a subprocess of its own session; always stopped by ``stop``."""

    def __init__(
        self,
        port: int,
        env: dict[str, str],
        log_path: Path,
        profile: ProfileSpec,
        workers: int = 1,
        cpu: int | None = None,
    ) -> None:
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
            preexec_fn=die_with_parent if cpu is None else lambda: _pinned(cpu),
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
        LONGTUAN_DATA_KEY=new_key(),
        LONGTUAN_WECHAT_API_BASE="http://127.0.0.1:9",
        LONGTUAN_LOG_LEVEL="WARNING",
        LONGTUAN_PORT=str(port),
    )
    if profile.mode == "cprofile":
        env[PROFILE_OUT_ENV] = profile.out
    return env


def metric_counts(text: str, name: str, label: str) -> dict[str, float]:
    pattern = re.compile(rf'^{name}\{{[^}}]*\b{label}="([^"]*)"[^}}]*\}} ([0-9.eE+-]+)$', re.M)
    out: dict[str, float] = collections.defaultdict(float)
    for value, count in pattern.findall(text):
        out[value] += float(count)
    return dict(out)


def log_summary(log_path: Path) -> collections.Counter[str]:
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
