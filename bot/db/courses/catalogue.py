"""The catalogue: themes and classes with their seats, read for browsing and written by import and demo."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(slots=True, frozen=True)
class Theme:
    id: int
    name: str
    keywords: tuple[str, ...]
    summary: str

    def named_in(self, said: str, topic: str = "") -> bool:
        """The text names the theme (its name or a keyword in it), or its topic is part of the name (摄影)."""
        if topic and topic in self.name:
            return True
        return any(word and word in said for word in (self.name, *self.keywords))


@dataclass(slots=True, frozen=True)
class ClassView:
    """A class as people see it: seats are counted from the signups, never stored."""

    id: int
    ref: str
    theme: str
    title: str
    teacher: str
    venue: str
    street: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    seated: int
    waiting: int
    checkin_code: str
    status: str

    @property
    def seats_left(self) -> int:
        return max(self.capacity - self.seated, 0)

    @property
    def is_open(self) -> bool:
        return self.status == "open"


#: Every class read goes through this SELECT; the counts come from the signups.
_CLASSES = """
SELECT c.id, c.ref, t.name AS theme, c.title, c.teacher, c.venue, c.street, c.starts_at, c.ends_at,
       c.capacity, c.checkin_code, c.status,
       count(s.id) FILTER (WHERE s.status IN ('confirmed', 'attended')) AS seated,
       count(s.id) FILTER (WHERE s.status = 'waitlisted') AS waiting
FROM course_classes c
JOIN course_themes t ON t.id = c.theme_id
LEFT JOIN course_signups s ON s.class_id = c.id AND s.status IN ('confirmed', 'attended', 'waitlisted')
"""
_GROUP = " GROUP BY c.id, t.name "


def _view(row: Any) -> ClassView:
    m = row._mapping
    return ClassView(
        id=m["id"],
        ref=m["ref"],
        theme=m["theme"],
        title=m["title"],
        teacher=m["teacher"],
        venue=m["venue"],
        street=m["street"],
        starts_at=m["starts_at"],
        ends_at=m["ends_at"],
        capacity=m["capacity"],
        seated=int(m["seated"]),
        waiting=int(m["waiting"]),
        checkin_code=m["checkin_code"],
        status=m["status"],
    )


async def themes(s: AsyncSession) -> list[Theme]:
    rows = await s.execute(text("SELECT id, name, keywords, summary FROM course_themes ORDER BY id"))
    return [Theme(r.id, r.name, tuple(r.keywords.split()), r.summary) for r in rows]


async def upcoming(
    s: AsyncSession,
    now: datetime,
    *,
    theme_id: int | None = None,
    street: str | None = None,
    until: datetime | None = None,
    from_: datetime | None = None,
    hours: tuple[int, int] | None = None,
    tz: str = "Asia/Shanghai",
    street_first: str = "",
    limit: int = 5,
    offset: int = 0,
) -> tuple[list[ClassView], int]:
    """Open classes not yet started, soonest first (the person's street first); and how many in all.

    ``hours``: only classes starting at a local hour in [first, last) of time zone ``tz``."""
    where = ["c.status = 'open'", "c.starts_at > :now"]
    params: dict[str, Any] = {"now": now, "pref": street_first, "limit": limit, "offset": offset}
    if theme_id is not None:
        where.append("c.theme_id = :theme")
        params["theme"] = theme_id
    if street:
        where.append("c.street = :street")
        params["street"] = street
    if from_ is not None:
        where.append("c.starts_at >= :from_")
        params["from_"] = from_
    if until is not None:
        where.append("c.starts_at < :until")
        params["until"] = until
    if hours is not None:
        where.append("EXTRACT(HOUR FROM c.starts_at AT TIME ZONE :tz) >= :h_first")
        where.append("EXTRACT(HOUR FROM c.starts_at AT TIME ZONE :tz) < :h_last")
        params.update(tz=tz, h_first=hours[0], h_last=hours[1])
    clause = " WHERE " + " AND ".join(where)
    rows = await s.execute(
        text(
            _CLASSES
            + clause
            + _GROUP
            + "ORDER BY (c.street = :pref) DESC, c.starts_at, c.id LIMIT :limit OFFSET :offset"
        ),
        params,
    )
    total = (await s.execute(text("SELECT count(*) FROM course_classes c" + clause), params)).scalar_one()
    return [_view(r) for r in rows], int(total)


async def listing(s: AsyncSession, since: datetime | None) -> list[ClassView]:
    """Every class (``since`` None), or those whose end is after ``since``, soonest first, for staff."""
    clause = "" if since is None else " WHERE c.ends_at > :since "
    rows = await s.execute(text(_CLASSES + clause + _GROUP + "ORDER BY c.starts_at, c.id"), {"since": since})
    return [_view(r) for r in rows]


async def get(s: AsyncSession, class_id: int) -> ClassView | None:
    row = (await s.execute(text(_CLASSES + " WHERE c.id = :id" + _GROUP), {"id": class_id})).first()
    return _view(row) if row is not None else None


async def by_code(s: AsyncSession, code: str) -> ClassView | None:
    row = (await s.execute(text(_CLASSES + " WHERE c.checkin_code = :code" + _GROUP), {"code": code})).first()
    return _view(row) if row is not None else None


async def by_ref(s: AsyncSession, ref: str) -> ClassView | None:
    row = (await s.execute(text(_CLASSES + " WHERE c.ref = :ref" + _GROUP), {"ref": ref})).first()
    return _view(row) if row is not None else None


async def search(s: AsyncSession, now: datetime, words: str, limit: int = 5) -> list[ClassView]:
    """Open upcoming classes whose title or theme contains ``words``, soonest first."""
    rows = await s.execute(
        text(
            _CLASSES
            + " WHERE c.status = 'open' AND c.starts_at > :now"
            + " AND (strpos(c.title, :w) > 0 OR strpos(t.name, :w) > 0 OR strpos(t.keywords, :w) > 0)"
            + _GROUP
            + "ORDER BY c.starts_at, c.id LIMIT :limit"
        ),
        {"now": now, "w": words, "limit": limit},
    )
    return [_view(r) for r in rows]


# -- writing: import and demo -------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class ClassRecord:
    """One class as a cadre's file or the demo data gives it; ``ref`` is its stable key."""

    ref: str
    theme: str
    title: str
    teacher: str
    venue: str
    street: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    checkin_code: str
    status: str = "open"


async def upsert_themes(s: AsyncSession, items: Sequence[tuple[str, str, str]]) -> dict[str, int]:
    """(name, keywords, summary) rows; a theme named again keeps its keywords unless new ones are given."""
    for name, keywords, summary in items:
        await s.execute(
            text("""
            INSERT INTO course_themes (name, keywords, summary) VALUES (:name, :keywords, :summary)
            ON CONFLICT (name) DO UPDATE SET
              keywords = CASE WHEN excluded.keywords <> '' THEN excluded.keywords ELSE course_themes.keywords END,
              summary = CASE WHEN excluded.summary <> '' THEN excluded.summary ELSE course_themes.summary END
            WHERE (excluded.keywords <> '' AND excluded.keywords IS DISTINCT FROM course_themes.keywords)
               OR (excluded.summary <> '' AND excluded.summary IS DISTINCT FROM course_themes.summary)
            """),
            {"name": name, "keywords": keywords, "summary": summary},
        )
    rows = await s.execute(text("SELECT name, id FROM course_themes"))
    return {r.name: r.id for r in rows}


_UPSERT_CLASS = text("""
INSERT INTO course_classes (ref, theme_id, title, teacher, venue, street, starts_at, ends_at, capacity,
                            checkin_code, status)
VALUES (:ref, :theme_id, :title, :teacher, :venue, :street, :starts_at, :ends_at, :capacity, :checkin_code, :status)
ON CONFLICT (ref) DO UPDATE SET
  theme_id = excluded.theme_id, title = excluded.title, teacher = excluded.teacher, venue = excluded.venue,
  street = excluded.street, starts_at = excluded.starts_at, ends_at = excluded.ends_at,
  capacity = excluded.capacity, checkin_code = excluded.checkin_code, status = excluded.status
WHERE (course_classes.theme_id, course_classes.title, course_classes.teacher, course_classes.venue,
       course_classes.street, course_classes.starts_at, course_classes.ends_at, course_classes.capacity,
       course_classes.checkin_code, course_classes.status)
  IS DISTINCT FROM
      (excluded.theme_id, excluded.title, excluded.teacher, excluded.venue, excluded.street, excluded.starts_at,
       excluded.ends_at, excluded.capacity, excluded.checkin_code, excluded.status)
RETURNING id, (xmax = 0) AS inserted
""")


@dataclass(slots=True, frozen=True)
class Written:
    id: int
    ref: str
    #: True for a new class, False for one whose values changed.
    inserted: bool


async def upsert_classes(s: AsyncSession, records: Sequence[ClassRecord]) -> list[Written]:
    """Insert or update by ``ref``; returns the rows written (a row whose values are the same is not).

    ``xmax = 0`` in RETURNING tells an inserted row from an updated one (an update sets xmax).
    """
    theme_ids = await upsert_themes(s, sorted({(r.theme, "", "") for r in records}))
    changed: list[Written] = []
    for r in records:
        row = (
            await s.execute(
                _UPSERT_CLASS,
                {
                    "ref": r.ref,
                    "theme_id": theme_ids[r.theme],
                    "title": r.title,
                    "teacher": r.teacher,
                    "venue": r.venue,
                    "street": r.street,
                    "starts_at": r.starts_at,
                    "ends_at": r.ends_at,
                    "capacity": r.capacity,
                    "checkin_code": r.checkin_code,
                    "status": r.status,
                },
            )
        ).first()
        if row is not None:
            changed.append(Written(int(row.id), r.ref, bool(row.inserted)))
    return changed


@dataclass(slots=True, frozen=True)
class Existing:
    ref: str
    checkin_code: str
    seated: int


async def existing(s: AsyncSession) -> dict[str, Existing]:
    """Every class by ref, with its check-in code and seats taken (what an import must respect)."""
    rows = await s.execute(
        text("""
        SELECT c.ref, c.checkin_code,
               (SELECT count(*) FROM course_signups s
                WHERE s.class_id = c.id AND s.status IN ('confirmed', 'attended')) AS seated
        FROM course_classes c
        """)
    )
    return {r.ref: Existing(r.ref, r.checkin_code, int(r.seated)) for r in rows}


async def seat_holders(s: AsyncSession, class_id: int) -> list[tuple[str, str]]:
    """(channel, openid) of everyone holding a seat or a waitlist place: who to tell of a change."""
    rows = await s.execute(
        text("""
        SELECT u.channel, u.external_id FROM course_signups s JOIN users u ON u.id = s.user_id
        WHERE s.class_id = :c AND s.status IN ('confirmed', 'waitlisted') ORDER BY s.id
        """),
        {"c": class_id},
    )
    return [(r.channel, r.external_id) for r in rows]


@dataclass(slots=True, frozen=True)
class RosterLine:
    """One live or past signup of a class, as the staff at the venue read it."""

    name: str
    mobile: str
    external_id: str
    status: str
    walk_in: bool
    signed_up_at: datetime
    checked_in_at: datetime | None
    #: 1, 2, ... for those waiting, in arrival order; 0 otherwise
    position: int


async def roster(s: AsyncSession, class_id: int) -> list[RosterLine]:
    """Everyone signed up for the class, waiting, checked in or marked absent (not those who
    cancelled): seated first, then the waitlist in arrival order."""
    rows = await s.execute(
        text("""
SELECT coalesce(p.name, '') AS name, coalesce(p.mobile, '') AS mobile, u.external_id, s.status, s.walk_in,
       s.created_at, s.checked_in_at,
       CASE WHEN s.status = 'waitlisted'
            THEN row_number() OVER (PARTITION BY s.status = 'waitlisted' ORDER BY s.id) ELSE 0 END AS position
FROM course_signups s
JOIN users u ON u.id = s.user_id
LEFT JOIN course_profiles p ON p.user_id = s.user_id
WHERE s.class_id = :c AND s.status <> 'cancelled'
ORDER BY (s.status = 'waitlisted'), s.id
"""),
        {"c": class_id},
    )
    return [
        RosterLine(r.name, r.mobile, r.external_id, r.status, r.walk_in, r.created_at, r.checked_in_at, int(r.position))
        for r in rows
    ]
