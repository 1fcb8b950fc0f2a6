"""The benchmark's one error: it could not run (as opposed to requests that failed)."""


class BenchError(Exception):
    """The benchmark could not run (services down, server did not start ...)."""
