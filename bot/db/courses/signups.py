"""Signups: profiles, signing up with capacity and waitlist, cancelling, promotion, a person's signups.

Every change that takes or frees a seat first locks the class row (``lock_class``), then counts
in a statement of its own: under READ COMMITTED each statement reads a fresh snapshot, so the
count sees what the previous lock holder committed. Signing up, the change that comes in bursts,
does the same inside one database function (``course_sign_up``, migration 0004) run on its own.
Signup ids come from a sequence taken under that lock, so they are the arrival order the waitlist is
served in. Each statement that changes a
signup writes its event in the same statement (a data-modifying CTE): no change without its record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import driver
from bot.db.courses.tables import CONFIRMED
from bot.db.users import ensure_user


@dataclass(slots=True, frozen=True)
class Profile:
    name: str
    mobile: str
    street: str


async def profile(s: AsyncSession, user_id: int) -> Profile | None:
    row = (
        await s.execute(text("SELECT name, mobile, street FROM course_profiles WHERE user_id = :u"), {"u": user_id})
    ).first()
    return Profile(row.name, row.mobile, row.street) if row is not None else None


async def save_profile(s: AsyncSession, user_id: int, p: Profile, at: datetime) -> None:
    """Keep the person's details; their street also becomes the account's street if they had none."""
    await s.execute(
        text("""
        INSERT INTO course_profiles (user_id, name, mobile, street, updated_at)
        VALUES (:u, :name, :mobile, :street, :at)
        ON CONFLICT (user_id) DO UPDATE SET name = excluded.name, mobile = excluded.mobile,
                                            street = excluded.street, updated_at = excluded.updated_at
        """),
        {"u": user_id, "name": p.name, "mobile": p.mobile, "street": p.street, "at": at},
    )
    await s.execute(
        text("UPDATE users SET street = :street WHERE id = :u AND street = ''"), {"u": user_id, "street": p.street}
    )


@dataclass(slots=True, frozen=True)
class Locked:
    id: int
    capacity: int
    status: str
    starts_at: datetime


#: The lock, and this transaction's commit made asynchronous (``set_config(..., true)`` is SET LOCAL).
_LOCK = text("""
SELECT id, capacity, status, starts_at, set_config('synchronous_commit', 'off', true)
FROM course_classes WHERE id = :c FOR NO KEY UPDATE
""")


async def lock_class(s: AsyncSession, class_id: int) -> Locked | None:
    """Take the class's row lock until the transaction ends: seat changes of one class go one at a time.

    NO KEY UPDATE, not UPDATE: inserting a signup (its foreign key takes KEY SHARE) stays possible.

    The transaction's commit does not wait for the disk. A lock held through a synchronous commit
    is held through an fsync (3.4 ms against 0.9 here), and a popular class's signups queue on it
    one by one; asynchronous, the next one proceeds as soon as this commit is visible. Nothing is
    lost that anyone was told of: the caller awaits ``sessions.flushed`` (or runs
    ``sessions.durable``) before answering, and those flushes, outside the lock, share fsyncs.
    """
    row = (await s.execute(_LOCK, {"c": class_id})).first()
    return Locked(row.id, row.capacity, row.status, row.starts_at) if row is not None else None


@dataclass(slots=True, frozen=True)
class Live:
    """A live signup of a person on a class, and its waitlist position (0 when not waiting)."""

    id: int
    status: str
    position: int


async def live_signup(s: AsyncSession, class_id: int, user_id: int) -> Live | None:
    row = (
        await s.execute(
            text("""
            SELECT s.id, s.status,
                   CASE WHEN s.status = 'waitlisted' THEN (
                     SELECT count(*) FROM course_signups w
                     WHERE w.class_id = s.class_id AND w.status = 'waitlisted' AND w.id <= s.id) ELSE 0 END AS position
            FROM course_signups s WHERE s.class_id = :c AND s.user_id = :u AND s.status <> 'cancelled'
            """),
            {"c": class_id, "u": user_id},
        )
    ).first()
    return Live(row.id, row.status, int(row.position)) if row is not None else None


@dataclass(slots=True, frozen=True)
class Brief:
    """What a signup answer says of its class."""

    id: int
    title: str
    venue: str
    street: str
    starts_at: datetime
    ends_at: datetime
    status: str


@dataclass(slots=True, frozen=True)
class Check:
    """All a signup looks at before it takes a seat, read in one statement."""

    cls: Brief
    has_profile: bool
    live: Live | None
    #: Start times of the person's no-shows since the ``since`` asked for (classes not cancelled).
    no_shows: tuple[datetime, ...]


#: asyncpg's $n parameters: the hot path of a campaign runs it straight on the driver (``bot.db.driver``).
#: $1 class, $2 channel, $3 openid, $4 the start of the no-show window.
_CHECK = """
SELECT me.id AS user_id, c.id, c.title, c.venue, c.street, c.starts_at, c.ends_at, c.status,
       EXISTS (SELECT 1 FROM course_profiles p WHERE p.user_id = me.id) AS has_profile,
       l.id AS live_id, l.status AS live_status,
       CASE WHEN l.status = 'waitlisted' THEN (
         SELECT count(*) FROM course_signups w
         WHERE w.class_id = c.id AND w.status = 'waitlisted' AND w.id <= l.id) ELSE 0 END AS position,
       ARRAY(SELECT n.starts_at FROM course_signups x JOIN course_classes n ON n.id = x.class_id
             WHERE x.user_id = me.id AND x.status = 'no_show' AND n.status = 'open' AND n.starts_at > $4
             ORDER BY n.starts_at) AS no_shows
FROM users me
JOIN course_classes c ON c.id = $1
LEFT JOIN course_signups l ON l.class_id = c.id AND l.user_id = me.id AND l.status <> 'cancelled'
WHERE me.channel = $2 AND me.external_id = $3
"""


async def check(
    s: AsyncSession, class_id: int, channel: str, openid: str, now: float, since: datetime
) -> tuple[int, Check | None]:
    """The person's ``users.id``; the class, whether they have a profile and a live signup there, and
    their no-shows since ``since`` (None when there is no such class).

    The person is read, not upserted: a read takes no row lock, so a burst of signups does not
    queue behind the write-behind's upsert of the same users. Only someone whose row is not
    written yet is inserted (``ensure_user``), and asked again.
    """
    conn = await driver(s)
    row = await conn.fetchrow(_CHECK, class_id, channel, openid, since)
    if row is None:
        uid = await ensure_user(s, channel, openid, now)
        row = await conn.fetchrow(_CHECK, class_id, channel, openid, since)
        if row is None:
            return uid, None
    cls = Brief(row["id"], row["title"], row["venue"], row["street"], row["starts_at"], row["ends_at"], row["status"])
    live = Live(row["live_id"], row["live_status"], int(row["position"])) if row["live_id"] is not None else None
    return int(row["user_id"]), Check(cls, bool(row["has_profile"]), live, tuple(row["no_shows"]))


@dataclass(slots=True, frozen=True)
class SignupResult:
    """``status``: confirmed | waitlisted (new), already (``live`` says how), missing, closed, started."""

    status: str
    signup_id: int = 0
    position: int = 0
    live: Live | None = None


_SIGN_UP = "SELECT signup_id, outcome, waiting_position FROM course_sign_up($1, $2, $3, $4)"


async def sign_up(s: AsyncSession, class_id: int, user_id: int, at: datetime, cause: str = "user") -> SignupResult:
    """A seat if one is free and nobody waits, else the back of the waitlist; a second signup changes nothing.

    ``s`` is a ``sessions.autocommit`` session: the database function ``course_sign_up`` (migration 0004)
    locks the class, counts, inserts and records in one statement that commits by itself,
    asynchronously; the caller awaits ``sessions.flushed`` before telling anyone.
    """
    conn = await driver(s)
    row = await conn.fetchrow(_SIGN_UP, class_id, user_id, at, cause)
    assert row is not None  # the function returns one row in every case
    if row["outcome"] == "already":
        live = await live_signup(s, class_id, user_id)
        return SignupResult("already", row["signup_id"], live.position if live else 0, live)
    return SignupResult(row["outcome"], row["signup_id"], int(row["waiting_position"]))


@dataclass(slots=True, frozen=True)
class Promoted:
    """A waiting person who was given a seat: who to tell."""

    signup_id: int
    class_id: int
    channel: str
    external_id: str


#: Gives each free seat to the first person waiting, in arrival order; the class is locked.
_FILL = text("""
WITH free AS (
       SELECT greatest(c.capacity - (SELECT count(*) FROM course_signups
                                     WHERE class_id = :c AND status IN ('confirmed', 'attended')), 0) AS n
       FROM course_classes c WHERE c.id = :c),
     nxt AS (SELECT id FROM course_signups WHERE class_id = :c AND status = 'waitlisted'
             ORDER BY id LIMIT (SELECT n FROM free)),
     up AS (UPDATE course_signups s SET status = 'confirmed', updated_at = :at FROM nxt
            WHERE s.id = nxt.id AND s.status = 'waitlisted' RETURNING s.id, s.user_id),
     ev AS (INSERT INTO course_signup_events (signup_id, kind, cause, at) SELECT id, 'promoted', :cause, :at FROM up)
SELECT up.id, u.channel, u.external_id FROM up JOIN users u ON u.id = up.user_id ORDER BY up.id
""")


async def fill(s: AsyncSession, class_id: int, at: datetime, cause: str) -> list[Promoted]:
    """Promote as many waiting people as there are free seats; the caller holds the class lock."""
    rows = await s.execute(_FILL, {"c": class_id, "at": at, "cause": cause})
    return [Promoted(r.id, class_id, r.channel, r.external_id) for r in rows]


@dataclass(slots=True, frozen=True)
class CancelResult:
    """``status``: cancelled (``was`` confirmed or waitlisted), not_live (nothing to cancel)."""

    status: str
    was: str = ""
    promoted: tuple[Promoted, ...] = ()


_CANCEL = text("""
WITH up AS (
       UPDATE course_signups s SET status = 'cancelled', updated_at = :at
       FROM (SELECT id, status FROM course_signups WHERE id = :id AND status IN ('confirmed', 'waitlisted')) old
       WHERE s.id = old.id RETURNING s.id, old.status AS was),
     ev AS (INSERT INTO course_signup_events (signup_id, kind, cause, at) SELECT id, 'cancelled', :cause, :at FROM up)
SELECT was FROM up
""")


async def cancel(s: AsyncSession, signup_id: int, class_id: int, at: datetime, cause: str = "user") -> CancelResult:
    """Cancel a seat or a waitlist place; a freed seat goes to the first person waiting, once."""
    await lock_class(s, class_id)
    row = (await s.execute(_CANCEL, {"id": signup_id, "at": at, "cause": cause})).first()
    if row is None:
        return CancelResult("not_live")
    promoted: list[Promoted] = []
    if row.was == CONFIRMED:
        promoted = await fill(s, class_id, at, f"cancel:{signup_id}")
    return CancelResult("cancelled", row.was, tuple(promoted))


@dataclass(slots=True, frozen=True)
class Mine:
    """One of a person's signups, with its class and waitlist position."""

    signup_id: int
    status: str
    position: int
    class_id: int
    title: str
    theme: str
    venue: str
    starts_at: datetime
    ends_at: datetime


async def mine(s: AsyncSession, user_id: int, since: datetime, limit: int = 8) -> list[Mine]:
    """Live signups on open classes that have not ended by ``since``, soonest first."""
    rows = await s.execute(
        text("""
        SELECT s.id, s.status, c.id AS class_id, c.title, t.name AS theme, c.venue, c.starts_at, c.ends_at,
               CASE WHEN s.status = 'waitlisted' THEN (
                 SELECT count(*) FROM course_signups w
                 WHERE w.class_id = s.class_id AND w.status = 'waitlisted' AND w.id <= s.id) ELSE 0 END AS position
        FROM course_signups s JOIN course_classes c ON c.id = s.class_id JOIN course_themes t ON t.id = c.theme_id
        WHERE s.user_id = :u AND s.status IN ('confirmed', 'waitlisted', 'attended') AND c.status = 'open'
          AND c.ends_at > :since
        ORDER BY c.starts_at, s.id LIMIT :limit
        """),
        {"u": user_id, "since": since, "limit": limit},
    )
    return [
        Mine(r.id, r.status, int(r.position), r.class_id, r.title, r.theme, r.venue, r.starts_at, r.ends_at)
        for r in rows
    ]


async def events_of(s: AsyncSession, signup_id: int) -> list[tuple[str, str]]:
    """(kind, cause) of a signup's recorded changes, oldest first."""
    rows = await s.execute(
        text("SELECT kind, cause FROM course_signup_events WHERE signup_id = :id ORDER BY id"), {"id": signup_id}
    )
    return [(r.kind, r.cause) for r in rows]
