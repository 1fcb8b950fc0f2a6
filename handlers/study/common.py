"""What the study handlers share: the member behind a message, and this week's episode."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import Context
from bot.db.study import episodes, members
from bot.db.study.episodes import Episode
from bot.db.study.members import Member
from bot.db.users import ensure_user
from bot.model import Inbound


@dataclass(slots=True, frozen=True)
class Who:
    user_id: int
    member: Member | None
    episode: Episode | None


async def who(s: AsyncSession, msg: Inbound, ctx: Context) -> Who:
    """The sender's users.id, open membership and the latest episode that has opened."""
    user_id = await ensure_user(s, msg.channel, msg.user_id, ctx.now())
    return Who(user_id, await members.current(s, user_id), await episodes.current(s, ctx.local_now()))


def is_paused(member: Member, episode: Episode | None) -> bool:
    return member.paused or (episode is not None and member.paused_episode_id == episode.id)
