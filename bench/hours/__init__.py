"""The hours benchmark: a half-year volunteering ledger on PostgreSQL, 「我的时长」 and a check-in burst.

    python -m bench.hours [--checkins 317733] [--volunteers 40000] [--requests 20000]
                          [--connections 64] [--burst 2000] [--keep]

What it does, in order:

1. Recreates its own database ``longtuan_bench_hours`` (Alembic upgrade) and bulk-loads, with
   server-side ``INSERT … SELECT`` over ``generate_series`` (no rows travel through Python):
   tens of thousands of volunteers, 543 teams across the 11 streets, 23,587 projects at points in
   Longgang, two shifts each over the last half year, ``--checkins`` closed check-ins (unique per
   shift and volunteer) and their service entries in the ledger, then ANALYZE. The load time is
   reported.
2. Starts ``longtuan serve`` (bench.gateway's ``Server``) in safe mode on a free port.
3. 「我的时长」: ``--requests`` signed, encrypted messages from random volunteers, made before the
   clock starts, sent over ``--connections`` keep-alive connections (closed loop, volunteers
   partitioned between connections so the per-user lock is never contended by the benchmark). The
   first 5 % warm up and are not measured. A sample of replies is decrypted and checked.
4. The burst: one large event (a shift that starts in 20 minutes with room for everyone),
   ``--burst`` volunteers send 「签到 <code>」 at once over the same connections. A large event
   registers its volunteers beforehand: all but ``--walk-ins`` (default 200) have a signup. A
   walk-in also takes a seat, an UPDATE of the shift's one row, so walk-ins of one shift check in
   one after the other (each holds that row from its check-in statement to its commit); signed-up
   volunteers touch only their own rows. Every reply must be the check-in confirmation, and the
   database must hold exactly ``--burst`` check-ins for the shift.
5. Prints a table, then one JSON line with ``checkins``, ``p99_ms``, ``burst_checkins``,
   ``burst_max_ms`` (and more). ``machine_cpu_us_per_request`` is the CPU of every process on the
   machine during 「我的时长」 over its requests; the table turns it into the closed loop's bound:
   at most cores / that requests a second, so a mean latency of at least connections / that.

Targets (issue 9): p99 at or under 20 ms at 64 connections; the burst all answered within 1 s.
Exit status 0 when every request succeeded and the burst made exactly its check-ins, 1 otherwise,
2 when the benchmark could not run.

    data    the database recreated and the half-year ledger bulk-loaded
    drive   payloads, the closed-loop client, the two phases and their checks
"""
