"""Many users at once through HTTP: every message answered, to the right user, and flows never interleave."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.db.models import User
from bot.session.base import SessionKey
from handlers.profile import StreetFlow
from tests.conftest import GatewayFactory
from tests.harness import ACCOUNT, Gateway

#: What each user says, all at once, and the content key the reply must start with.
LINES = [
    ("帮助", "help.main"),
    ("夜校怎么报名", "faq.night_school.signup"),
    ("志愿时长怎么查", "faq.volunteer.hours"),
    ("今天天气不错", "fallback.text"),
]


async def state_of(gateway: Gateway, user: str) -> str | None:
    """The user's flow state, read through the store like a message would (lock included)."""
    store, key = gateway.services.store, SessionKey("wechat", ACCOUNT, user)
    begin = await store.begin(None, key, "probe")
    assert begin.session is not None
    await store.finish(None, key, "probe", begin.session, "")
    return begin.session.state


async def test_200_messages_from_50_users_at_once(gateway: Gateway) -> None:
    users = [f"o-crowd-{n:02d}" for n in range(50)]
    said = [(user, text, key) for user in users for text, key in LINES]
    assert len(said) == 200

    answers = await asyncio.gather(*(gateway.say(user, text) for user, text, _ in said))
    for (user, text, key), answer in zip(said, answers, strict=True):
        assert answer.status == 200, (user, text, answer.status, answer.body)
        assert answer.fields["ToUserName"] == user and answer.fields["FromUserName"] == ACCOUNT
        assert answer.text.startswith(gateway.expected(key)), (user, text, answer.text)

    await gateway.flush_users()
    async with gateway.db.session() as s:
        seen = set((await s.execute(select(User.external_id).where(User.external_id.in_(users)))).scalars())
    assert seen == set(users)


async def test_one_users_concurrent_answers_to_a_flow_never_interleave(make_gateway: GatewayFactory) -> None:
    """Two answers to one question at once: exactly one is taken as the answer, the other sees no question.

    Without the per-user lock taken before the state is read, both would read "choosing a street"
    and both would save a street.
    """
    gateway = await make_gateway()
    streets = gateway.services.content.streets
    numbered = "\n".join(f"{i}. {s}" for i, s in enumerate(streets, 1))
    users = [f"o-pair-{n:02d}" for n in range(20)]
    asked = await asyncio.gather(*(gateway.say(user, "设置街道") for user in users))
    assert all(a.text == gateway.expected("profile.ask_street", streets=numbered) for a in asked)
    assert await state_of(gateway, users[0]) == StreetFlow.choosing.name

    pairs = await asyncio.gather(*(asyncio.gather(gateway.say(user, "4"), gateway.say(user, "5")) for user in users))

    saved_texts = {gateway.expected("profile.street_saved", street=s): s for s in ("坂田", "南湾")}
    fallback = gateway.expected("fallback.text")
    async with gateway.db.session() as s:
        streets_saved = dict(
            (await s.execute(select(User.external_id, User.street).where(User.external_id.in_(users)))).all()
        )
    for user, (four, five) in zip(users, pairs, strict=True):
        texts = [four.text, five.text]
        saved = [saved_texts[t] for t in texts if t in saved_texts]
        assert len(saved) == 1 and texts.count(fallback) == 1, (user, texts)
        assert streets_saved[user] == saved[0], (user, streets_saved[user], saved)
        assert await state_of(gateway, user) is None, user
