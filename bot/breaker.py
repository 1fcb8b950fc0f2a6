"""A circuit breaker: after a backing service fails, stop calling it for a short cool-down.

A dead Redis or database must not cost every message a connect timeout: for ``cooldown``
seconds after a failure, calls fail fast with ``Unavailable``; the first call after that probes
the service again, so the gateway recovers by itself without a restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.errors import Unavailable

log = logging.getLogger("longtuan.breaker")


class Breaker:
    def __init__(self, name: str, cooldown: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.cooldown = cooldown
        self._clock = clock
        self._open_until = 0.0
        self.failures = 0

    @property
    def is_open(self) -> bool:
        return self._clock() < self._open_until

    def check(self) -> None:
        if self._open_until and self.is_open:
            raise Unavailable(f"{self.name} is unavailable")

    def failed(self, exc: BaseException) -> Unavailable:
        if not self.is_open:
            log.warning("backend down", extra={"backend": self.name, "error": type(exc).__name__})
        self.failures += 1
        self._open_until = self._clock() + self.cooldown
        return Unavailable(f"{self.name} is unavailable: {type(exc).__name__}")

    def succeeded(self) -> None:
        if self._open_until:
            log.info("backend back", extra={"backend": self.name})
            self._open_until = 0.0
