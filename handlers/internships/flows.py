"""The conversation states of 展翅计划: browsing results, applying, choosing what to unsubscribe."""

from __future__ import annotations

from bot.session.base import State, StatesGroup


class InternshipBrowse(StatesGroup):
    title_key = "flows.internship_browse"
    quiet = True
    #: Results on screen: numbers open a post, 「更多」 pages, other words search again.
    #: Data: ids (result post ids), page, label, post (the post whose detail is open).
    browsing = State(timeout=1800, timeout_key="internships.browse_timeout")


class InternshipApply(StatesGroup):
    title_key = "flows.internship_apply"
    name = State()
    mobile = State()
    school = State()
    major = State()
    year = State()
    confirm = State()


class InternshipUnsubscribe(StatesGroup):
    title_key = "flows.internship_unsubscribe"
    quiet = True
    #: Data: ids (subscription ids in the order listed).
    choosing = State()


APPLY_STATES = (
    InternshipApply.name,
    InternshipApply.mobile,
    InternshipApply.school,
    InternshipApply.major,
    InternshipApply.year,
    InternshipApply.confirm,
)
ALL_STATES = (InternshipBrowse.browsing, *APPLY_STATES, InternshipUnsubscribe.choosing)
