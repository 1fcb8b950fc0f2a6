"""The scheduler: ``python -m scheduler``, the one process that owns APScheduler and runs timed jobs.

Exactly one may run per deployment: APScheduler 3 keeps its jobs in this process and cannot share a
job store between processes (its FAQ), so a second copy would run every job twice. Jobs are
module-level coroutines in ``scheduler.jobs`` taking a ``JobContext`` (``scheduler.context``), and
``scheduler.jobs.schedule`` is the one place that registers them under stable ids.
"""
