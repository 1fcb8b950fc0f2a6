"""The gateway benchmark: the real server, real PostgreSQL and Redis, safe-mode signed text messages.

    python -m bench.gateway [--seconds 10] [--connections 64] [--users 5000] [--client raw|aiohttp]
                            [--workers 1] [--runs 3] [--no-pin] [--mix product|gateway] [--text TEXT ...]
                            [--profile [auto|py-spy|cprofile]] [--py-spy PATH] [--top 25]

What it does, in order:

1. Prepares its own database ``longtuan_bench`` (created if missing, Alembic upgrade) and a Redis
   key prefix of its own (``lt-bench-<random>:``), whose keys it deletes at the end. For the
   product mix (and ``--text``) it loads the demo data (``longtuan demo``, idempotent): the
   internship posts and this week's episode are there to be shown, as on a running account.
2. Starts ``python -m bot.cli serve`` (uvloop) as a subprocess on a free loopback port, with a fresh
   token, app id and EncodingAESKey, and waits for ``/healthz`` to answer 200.
3. A load generator in its own process (spawned, with uvloop) pre-computes every signed and
   encrypted payload before the clock starts (distinct MsgIds; users drawn from ``--users``
   openids; a realistic mix of FAQ questions, help, the programmes' entry words and unknown text,
   about half of which reaches PostgreSQL; ``--mix gateway`` sends only what is answered from
   content, the gateway's own cost). It holds ``--connections``
   keep-alive connections, each sending one message after the other (closed loop). Users are
   partitioned between the connections: like a real user, nobody writes again before the previous
   reply arrived, so the per-user lock is never contended by the benchmark itself.
   The default client (``raw``) writes pre-rendered HTTP/1.1 requests on asyncio streams and
   reads the responses (status line, headers, Content-Length body): about 35 µs of client CPU
   per request. ``--client aiohttp`` sends the same through aiohttp's ClientSession: about 170
   µs, which on a 2-core machine takes a core the server, Redis and PostgreSQL need and adds the
   client's own queueing to the latency it measures (p99 35 ms where ``raw`` measures 23).
4. A warm-up (2 s, not measured), then the measured window. Server CPU is the delta of
   utime+stime (and children) of the server process from ``/proc/<pid>/stat`` over the window,
   divided by the requests completed in the window. Replies are checked: any non-200, any answer
   that is not a reply XML, and a sample of replies decrypted and verified with the simulator's
   ``read_reply`` (signature, app id, addressed to the sender) all count as errors.
5. Prints a table, then as the last line one JSON object. A message the server answered without
   the full path (without state because Redis was unreachable, late, or by the error path) counts
   as an error: the figures are those of the full path or of nothing.

``--runs N`` (default 3, or 1 with ``--profile``) repeats the whole run N times (a fresh server
each) and ends with a table of the runs and one JSON line of their medians, with each figure's
range: on a shared 2-core VM one run can be 40 % off the next with the same code. With one
server process, the server and the load generator are pinned to a CPU each (``--no-pin`` leaves
them to the kernel).

``--profile`` samples the server during the measured window (py-spy if it is on PATH or given with
``--py-spy``, otherwise cProfile switched on and off by signals through ``bench.profiled_server``)
and prints the top functions by own time, converted to µs per request. Figures measured with a
profiler attached are a little higher than without.

The exit status is 0 when the run completed without errors, 1 when requests failed, 2 when the
benchmark itself could not run.

The modules, in the order of a run:

    __main__       the command line: flags, signals, exit status
    run            one run, in order, and the cleanup that always follows it
    config         service addresses, the bench account, the load generator's configuration
    errors         BenchError: the benchmark itself could not run
    services       PostgreSQL and Redis: the bench database prepared, a run's Redis keys deleted
    server         the server subprocess, and what it reports afterwards (metrics, log)
    processes      /proc readings (CPU ticks, RSS) and children that die with their parent
    payloads       signed, encrypted messages made before the clock starts
    senders        the two HTTP clients (aiohttp, raw HTTP/1.1 on asyncio streams)
    load           the load generator process: warm-up, measured window, reply verification
    profiler       py-spy or cProfile attached to the server for the window
    profile_table  a profile read back and printed by function and by area
    report         the result table and the JSON summary
"""
