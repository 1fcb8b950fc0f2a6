"""People in 展翅计划: applicant profiles, applications, keyword subscriptions and their matches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.internships.posts import Filters


@dataclass(slots=True, frozen=True)
class Profile:
    name: str
    mobile: str
    school: str
    major: str
    graduation_year: int


@dataclass(slots=True, frozen=True)
class Application:
    post_id: int
    title: str
    company: str
    status: str
    created_at: datetime


@dataclass(slots=True, frozen=True)
class Subscription:
    id: int
    label: str


@dataclass(slots=True, frozen=True)
class Match:
    user_id: int
    channel: str
    external_id: str
    #: The person's subscriptions that match this post, oldest first.
    labels: list[str]
    post_id: int
    title: str
    company: str
    street: str


async def profile(s: AsyncSession, user_id: int) -> Profile | None:
    row = (
        await s.execute(
            text("SELECT name, mobile, school, major, graduation_year FROM internship_applicants WHERE user_id = :u"),
            {"u": user_id},
        )
    ).first()
    return Profile(*row) if row else None


async def save_profile(s: AsyncSession, user_id: int, p: Profile, now: float) -> None:
    await s.execute(
        text("""
INSERT INTO internship_applicants (user_id, name, mobile, school, major, graduation_year, updated_at)
VALUES (:u, :name, :mobile, :school, :major, :year, :now)
ON CONFLICT (user_id) DO UPDATE SET name = excluded.name, mobile = excluded.mobile, school = excluded.school,
    major = excluded.major, graduation_year = excluded.graduation_year, updated_at = excluded.updated_at
"""),
        {
            "u": user_id,
            "name": p.name,
            "mobile": p.mobile,
            "school": p.school,
            "major": p.major,
            "year": p.graduation_year,
            "now": datetime.fromtimestamp(now, UTC),
        },
    )


async def apply(s: AsyncSession, user_id: int, post_id: int, p: Profile, today: date, now: float) -> str:
    """Record the application: ``applied``, or why not (``duplicate``, ``closed``).

    One statement decides: the post must be open and not past its deadline at this instant, and
    the unique key (user, post) refuses a second application however many arrive at once. An
    application the person withdrew is submitted again.
    """
    row = (
        await s.execute(
            text("""
INSERT INTO internship_applications (user_id, post_id, name, mobile, school, major, graduation_year, status,
    created_at)
SELECT :u, p.id, :name, :mobile, :school, :major, :year, 'submitted', :now
FROM internship_posts p WHERE p.id = :post AND p.status = 'open' AND p.deadline >= :today
ON CONFLICT (user_id, post_id) DO UPDATE SET name = excluded.name, mobile = excluded.mobile,
    school = excluded.school, major = excluded.major, graduation_year = excluded.graduation_year,
    status = 'submitted', created_at = excluded.created_at
    WHERE internship_applications.status = 'withdrawn'
RETURNING id
"""),
            {
                "u": user_id,
                "post": post_id,
                "name": p.name,
                "mobile": p.mobile,
                "school": p.school,
                "major": p.major,
                "year": p.graduation_year,
                "today": today,
                "now": datetime.fromtimestamp(now, UTC),
            },
        )
    ).first()
    if row is not None:
        return "applied"
    return "duplicate" if await applied_at(s, user_id, post_id) is not None else "closed"


async def applied_at(s: AsyncSession, user_id: int, post_id: int) -> datetime | None:
    """When the person applied to the post (an application they withdrew does not count)."""
    found: datetime | None = (
        await s.execute(
            text(
                "SELECT created_at FROM internship_applications"
                " WHERE user_id = :u AND post_id = :p AND status <> 'withdrawn'"
            ),
            {"u": user_id, "p": post_id},
        )
    ).scalar_one_or_none()
    return found


async def applications(s: AsyncSession, user_id: int, limit: int = 10) -> list[Application]:
    rows = await s.execute(
        text("""
SELECT a.post_id, p.title, p.company, a.status, a.created_at FROM internship_applications a
JOIN internship_posts p ON p.id = a.post_id WHERE a.user_id = :u ORDER BY a.created_at DESC, a.id DESC LIMIT :n
"""),
        {"u": user_id, "n": limit},
    )
    return [Application(*r) for r in rows]


#: What the person can still withdraw by chat: nothing has been decided yet.
WITHDRAWABLE = ("submitted", "forwarded")


@dataclass(slots=True, frozen=True)
class Withdrawn:
    title: str
    contact_email: str
    #: The status it had: ``forwarded`` means the employer already has the papers.
    was: str


async def withdraw(s: AsyncSession, user_id: int, post_id: int) -> Withdrawn | None:
    """Withdraw the application if nothing is decided on it yet (one conditional update, its row
    locked); None when there is none to withdraw (already withdrawn, or decided meanwhile)."""
    row = (
        await s.execute(
            text("""
UPDATE internship_applications a SET status = 'withdrawn'
FROM (SELECT id, status AS was FROM internship_applications WHERE user_id = :u AND post_id = :p FOR UPDATE) o,
    internship_posts p
WHERE a.id = o.id AND o.was = ANY(:open) AND p.id = a.post_id
RETURNING p.title, p.contact_email, o.was
"""),
            {"u": user_id, "p": post_id, "open": list(WITHDRAWABLE)},
        )
    ).first()
    return Withdrawn(*row) if row is not None else None


async def subscribe(
    s: AsyncSession, user_id: int, label: str, tsquery: str | None, f: Filters, limit: int, now: float
) -> str:
    """Save a subscription: ``saved``, ``exists`` or ``full`` (``limit`` per person).

    The person's users row is locked first, so two subscriptions arriving at once cannot both
    pass the count.
    """
    await s.execute(text("SELECT id FROM users WHERE id = :u FOR UPDATE"), {"u": user_id})
    existing = (
        await s.execute(
            text("SELECT count(*), bool_or(label = :label) FROM internship_subscriptions WHERE user_id = :u"),
            {"u": user_id, "label": label},
        )
    ).one()
    if existing[1]:
        return "exists"
    if existing[0] >= limit:
        return "full"
    await s.execute(
        text("""
INSERT INTO internship_subscriptions (user_id, label, query, street, industry, season, hmt_round, paid, created_at)
VALUES (:u, :label, CAST(:q AS tsquery), :street, :industry, :season, :hmt, :paid, :now)
"""),
        {
            "u": user_id,
            "label": label,
            "q": tsquery,
            "street": f.street,
            "industry": f.industry,
            "season": f.season,
            "hmt": f.hmt_round,
            "paid": f.paid,
            "now": datetime.fromtimestamp(now, UTC),
        },
    )
    return "saved"


async def subscriptions(s: AsyncSession, user_id: int) -> list[Subscription]:
    rows = await s.execute(
        text("SELECT id, label FROM internship_subscriptions WHERE user_id = :u ORDER BY created_at, id"),
        {"u": user_id},
    )
    return [Subscription(*r) for r in rows]


async def unsubscribe(s: AsyncSession, user_id: int, ids: Sequence[int] | None = None) -> int:
    """Remove these subscriptions of the person (None: all of them); returns how many went."""
    if ids is None:
        result = await s.execute(text("DELETE FROM internship_subscriptions WHERE user_id = :u"), {"u": user_id})
    else:
        result = await s.execute(
            text("DELETE FROM internship_subscriptions WHERE user_id = :u AND id = ANY(:ids)"),
            {"u": user_id, "ids": list(ids)},
        )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def matches(s: AsyncSession, post_ids: Sequence[int], today: date) -> list[Match]:
    """Every (subscriber, open post) pair among ``post_ids`` that a subscription matches.

    The subscription's tsquery runs against the posts' vectors in the database, the same test
    the search makes; a person with two matching subscriptions gets the post once, with both labels.
    """
    if not post_ids:
        return []
    rows = await s.execute(
        text("""
SELECT u.id, u.channel, u.external_id, array_agg(sub.label ORDER BY sub.id), p.id, p.title, p.company, p.street
FROM internship_subscriptions sub
JOIN users u ON u.id = sub.user_id AND u.subscribed
JOIN internship_posts p ON p.id = ANY(:ids)
WHERE p.status = 'open' AND p.deadline >= :today
  AND (sub.query IS NULL OR p.search @@ sub.query)
  AND (sub.street IS NULL OR p.street = sub.street)
  AND (sub.industry IS NULL OR p.industry = sub.industry)
  AND (sub.season IS NULL OR p.season = sub.season)
  AND (sub.hmt_round IS NULL OR p.hmt_round = sub.hmt_round)
  AND (sub.paid IS NULL OR p.paid = sub.paid)
GROUP BY u.id, p.id
ORDER BY u.id, p.id
"""),
        {"ids": list(post_ids), "today": today},
    )
    return [Match(*r) for r in rows]


#: The columns of ``longtuan export internship-applications``, in order.
EXPORT_COLUMNS = (
    "post_id",
    "title",
    "company",
    "contact_email",
    "name",
    "mobile",
    "school",
    "major",
    "graduation_year",
    "status",
    "applied_at",
)


async def export_applications(s: AsyncSession) -> list[tuple[object, ...]]:
    """Every application with its post, oldest first: what cadres pass on to the employers."""
    rows = await s.execute(
        text("""
SELECT p.post_id, p.title, p.company, p.contact_email, a.name, a.mobile, a.school, a.major, a.graduation_year,
    a.status, a.created_at
FROM internship_applications a JOIN internship_posts p ON p.id = a.post_id ORDER BY a.created_at, a.id
""")
    )
    return [tuple(r) for r in rows]
