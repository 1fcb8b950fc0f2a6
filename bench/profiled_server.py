"""``python -m bench.profiled_server serve ...``: ``longtuan serve`` with cProfile switched by signals.

Used by ``python -m bench.gateway --profile cprofile`` when py-spy is not available. SIGUSR1 starts
the profiler, SIGUSR2 stops it and writes the stats to ``$LONGTUAN_BENCH_PROFILE_OUT``, so only the
measured window is profiled (not the start-up, jieba's dictionary or the warm-up).
"""

from __future__ import annotations

import cProfile
import os
import signal
import sys
from types import FrameType

PROFILE_OUT_ENV = "LONGTUAN_BENCH_PROFILE_OUT"


def main() -> None:
    out = os.environ[PROFILE_OUT_ENV]
    profiler = cProfile.Profile()

    def start(signum: int, frame: FrameType | None) -> None:
        profiler.enable()

    def stop(signum: int, frame: FrameType | None) -> None:
        profiler.disable()
        profiler.dump_stats(out)

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)

    from bot.cli import main as cli_main

    cli_main(sys.argv[1:])


if __name__ == "__main__":
    main()
