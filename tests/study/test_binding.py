"""Binding to a branch by chat: the QR scene, the code, a wrong code, a change of branch; 「我的支部」."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.db.models import User
from bot.db.study import members
from bot.db.study.tables import StudyMembership
from tests.conftest import FixedClock, GatewayFactory
from tests.harness import Gateway
from tests.study.support import seed, user_id

BT01 = {"branch": "坂田街道第一团支部", "org": "共青团坂田街道工作委员会", "street": "坂田"}


async def started(make_gateway: GatewayFactory, clock: FixedClock) -> Gateway:
    # The fixed clock is hours away from the simulator's timestamps: no replay window.
    gw = await make_gateway(clock=clock, wechat_replay_window=0)
    await seed(gw.db)
    return gw


async def memberships(gw: Gateway, openid: str) -> list[tuple[str, str, bool]]:
    """(branch code, name, still open) of every membership the user has had, oldest first."""
    async with gw.db.session() as s:
        uid = (await s.execute(select(User.id).where(User.external_id == openid))).scalar_one()
        rows = await members.history(s, uid)
        names = (
            await s.execute(
                select(StudyMembership.name).where(StudyMembership.user_id == uid).order_by(StudyMembership.id)
            )
        ).scalars()
    return [(code, name, left is None) for (code, _, left), name in zip(rows, names, strict=True)]


async def test_scanning_a_branch_code_binds_and_asks_for_the_name(
    make_gateway: GatewayFactory, clock: FixedClock
) -> None:
    gw = await started(make_gateway, clock)
    answer = await gw.event("o-scan", "SCAN", "branch-bt01")
    assert answer.text == gw.expected("study.bound", **BT01)
    await gw.dialog("o-scan", [("张三 13800138000", "study.name_saved", {"name": "张三"})])
    assert await memberships(gw, "o-scan") == [("BT01", "张三", True)]
    async with gw.db.session() as s:
        mobile = (await s.execute(select(StudyMembership.mobile))).scalar_one()
    assert mobile == "13800138000"


async def test_following_through_a_branch_code_welcomes_and_binds(
    make_gateway: GatewayFactory, clock: FixedClock
) -> None:
    gw = await started(make_gateway, clock)
    answer = await gw.event("o-follow", "subscribe", "qrscene_branch-BJ01")
    assert answer.text == gw.expected(
        "study.welcome", branch="布吉街道第一团支部", org="共青团布吉街道工作委员会", street="布吉"
    )
    await gw.dialog("o-follow", [("跳过", "study.name_skipped")])
    assert await memberships(gw, "o-follow") == [("BJ01", "", True)]


async def test_an_unknown_branch_scene_binds_nobody(make_gateway: GatewayFactory, clock: FixedClock) -> None:
    gw = await started(make_gateway, clock)
    answer = await gw.event("o-old-poster", "SCAN", "branch-XX99")
    assert answer.text == gw.expected("study.scene_unknown")
    async with gw.db.session() as s:
        assert (await s.execute(select(StudyMembership))).first() is None


async def test_binding_by_code_a_wrong_code_then_the_right_one(make_gateway: GatewayFactory, clock: FixedClock) -> None:
    gw = await started(make_gateway, clock)
    await gw.dialog(
        "o-code",
        [
            ("我的支部", "study.no_branch"),
            ("绑定支部", "study.ask_code"),
            ("ZZ99", "study.code_unknown", {"code": "ZZ99"}),
            ("bt01", "study.bound", BT01),
        ],
    )
    # A command is not taken for a name: the flow ends and the command answers.
    answer = await gw.say("o-code", "这周学了吗")
    assert answer.text.startswith("青年大学习 · 第100期") and "你在「坂田街道第一团支部」" in answer.text
    answer = await gw.say("o-code", "我的支部")
    assert answer.text == gw.expected(
        "study.my_branch",
        **BT01,
        code="BT01",
        name=gw.expected("study.name_missing"),
        reminders=gw.expected("study.reminders_on"),
    )
    assert await memberships(gw, "o-code") == [("BT01", "", True)]


async def test_a_bare_code_binds_an_explicit_wrong_one_is_corrected(
    make_gateway: GatewayFactory, clock: FixedClock
) -> None:
    gw = await started(make_gateway, clock)
    await gw.dialog(
        "o-bare",
        [
            ("iphone15", "care.english"),  # shaped like a code, but no branch: not corrected
            ("支部码 QQ12", "study.code_unknown", {"code": "QQ12"}),
            ("BT02", "study.bound", {**BT01, "branch": "坂田街道第二团支部"}),
            ("李四", "study.name_saved", {"name": "李四"}),
            ("BT02", "study.already", {"branch": "坂田街道第二团支部", "street": "坂田"}),
        ],
    )
    assert await memberships(gw, "o-bare") == [("BT02", "李四", True)]


async def test_changing_branch_is_recorded(make_gateway: GatewayFactory, clock: FixedClock) -> None:
    gw = await started(make_gateway, clock)
    await gw.dialog("o-move", [("BT01", "study.bound", BT01), ("王五", "study.name_saved", {"name": "王五"})])
    clock.advance(86400)
    await gw.dialog(
        "o-move",
        [
            (
                "BJ01",
                "study.moved",
                {
                    "old": "坂田街道第一团支部",
                    "branch": "布吉街道第一团支部",
                    "org": "共青团布吉街道工作委员会",
                    "street": "布吉",
                },
            )
        ],
    )
    assert await memberships(gw, "o-move") == [("BT01", "王五", False), ("BJ01", "王五", True)]


async def test_leaving_the_branch_ends_the_membership_and_keeps_its_history(
    make_gateway: GatewayFactory, clock: FixedClock
) -> None:
    """「解绑支部」: no more reminders (the audiences read open memberships only), the history stays,
    and a second 「解绑」 or one by someone never bound says there is nothing to undo."""
    gw = await started(make_gateway, clock)
    await gw.dialog("o-leave", [("解绑支部", "study.leave_none")])
    await gw.dialog("o-leave", [("BT01", "study.bound", BT01), ("跳过", "study.name_skipped")])
    await gw.dialog(
        "o-leave", [("解绑支部", "study.left", {"branch": "坂田街道第一团支部"}), ("解绑", "study.leave_none")]
    )
    assert await memberships(gw, "o-leave") == [("BT01", "", False)]
    await gw.dialog("o-leave", [("我的支部", "study.no_branch")])
    await gw.dialog("o-leave", [("BT01", "study.bound", BT01)])
    assert await memberships(gw, "o-leave") == [("BT01", "", False), ("BT01", "", True)]


async def test_a_name_that_is_no_name_is_asked_again(make_gateway: GatewayFactory, clock: FixedClock) -> None:
    gw = await started(make_gateway, clock)
    await gw.dialog(
        "o-name",
        [
            ("BT01", "study.bound", BT01),
            ("我叫什么你猜猜看吧哈哈哈", "study.name_invalid"),
            ("阿依古丽·买买提", "study.name_saved", {"name": "阿依古丽·买买提"}),
        ],
    )


async def test_concurrent_binds_of_many_members_leave_one_open_membership_each(
    make_gateway: GatewayFactory, clock: FixedClock
) -> None:
    gw = await started(make_gateway, clock)
    users = [f"o-many-{i}" for i in range(30)]
    answers = await asyncio.gather(*(gw.say(u, "BT01" if i % 2 else "BJ01") for i, u in enumerate(users)))
    assert all(a.status == 200 and "已绑定到" in a.text for a in answers)
    # The same people again, at once, to the other branch: each moves exactly once.
    await asyncio.gather(*(gw.say(u, "BJ01" if i % 2 else "BT01") for i, u in enumerate(users)))
    async with gw.db.session() as s:
        rows = (await s.execute(select(StudyMembership.user_id, StudyMembership.left_at))).all()
    assert len(rows) == 60
    assert len({uid for uid, left in rows if left is None}) == 30 == sum(1 for _, left in rows if left is None)
    assert await user_id(gw.db, "o-many-0", clock()) > 0
