"""The signup burst benchmark: 1,000 people signing up for one 30-seat class at the same moment.

    python -m bench.signups [--users 1000] [--seats 30] [--workers 1] [--runs 1]

What it does, in order:

1. Prepares its own database ``longtuan_bench_signups`` (created if missing, Alembic upgrade),
   empties the night school's tables and the users, and seeds one class (30 seats, in two days)
   and ``--users`` people who already gave the night school their details (so that each one's
   signup takes the seat path, not the profile questions). Redis gets a key prefix of its own,
   deleted at the end.
2. Starts ``python -m bot.cli serve`` as a subprocess (``bench.gateway.server.Server``), safe mode
   with a fresh token and EncodingAESKey, and waits for ``/healthz``.
3. Signs and encrypts every user's 「报名#<class>」 before the clock starts, opens one keep-alive
   connection per user (so the kernel's accept queue is not what is measured), then writes all
   the requests at once and times each from its write to its full response.
4. Reads every reply back (signature checked, decrypted): 报名成功 or the waitlist position. Then
   reads the database: exactly ``--seats`` confirmed, the rest waitlisted, seats given to the
   earliest arrivals (signup ids), and the positions people were told equal to their places in
   arrival order.
5. Prints a table; the last line is one JSON object with ``confirmed``, ``waitlisted``,
   ``max_ms``, ``p99_ms`` and the rest. Exit status 0 when every target held, 1 when one did not
   (the figures are printed all the same), 2 when the benchmark could not run.

The modules:

    __main__   the command line and the exit status
    seed       the bench database: prepared, emptied, seeded
    burst      the client: payloads, connections, the simultaneous writes, the replies read
    run        one run in order: database, server, burst, verification, report
"""
