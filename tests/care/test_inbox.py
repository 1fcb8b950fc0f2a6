"""A person to talk to: 「人工」 and 联系我们 put the next messages into the staff inbox, and staff
answer from ``longtuan inbox`` through the outbound port while WeChat's 48-hour window is open."""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.commands.care import inbox_close, inbox_list, inbox_reply, inbox_show
from bot.db.care_tables import CareMessage, CareThread
from bot.db.models import User
from bot.outbound import Notice, SendResult, Status
from bot.text import to_traditional
from handlers.care.config import care_content
from tests.conftest import GatewayFactory
from tests.gateway.support import poll
from tests.harness import Gateway


def _hours(gateway: Gateway) -> str:
    return care_content(gateway.services.content).office.hours


async def _thread(gateway: Gateway, user: str) -> CareThread:
    async with gateway.db.session() as s:
        return (
            await s.execute(
                select(CareThread).join(User, User.id == CareThread.user_id).where(User.external_id == user)
            )
        ).scalar_one()


async def _contexts(gateway: Gateway, user: str) -> list[dict[str, object]]:
    thread = await _thread(gateway, user)
    async with gateway.db.session() as s:
        query = select(CareMessage.context).where(CareMessage.thread_id == thread.id).order_by(CareMessage.id)
        return list((await s.execute(query)).scalars().all())


async def test_asking_for_a_person_puts_the_next_messages_in_the_inbox(gateway: Gateway) -> None:
    hours = _hours(gateway)
    await gateway.dialog(
        "o-inbox-1",
        [
            ("今天天气不错", "fallback.text"),
            ("我的手机13812345678怎么换绑", "fallback.text"),
            ("转人工", "care.inbox_ask", {"hours": hours}),
            ("我想问问志愿证书怎么开", "care.inbox_saved", {"hours": hours}),
            ("我在坂田", "care.inbox_added"),
            ("好了", "care.inbox_done", {"hours": hours}),
            ("夜校怎么报名", "faq.night_school.signup"),  # the flow is over: questions are answered again
        ],
    )
    thread = await _thread(gateway, "o-inbox-1")
    assert thread.status == "open" and not thread.urgent and thread.reason == "message"
    # The context: how the person came, and (masked) what the bot could not answer just before.
    assert await _contexts(gateway, "o-inbox-1") == [
        {"via": "人工", "recent": ["今天天气不错", "我的手机[手机号]怎么换绑"]},
        {},
    ]
    async with gateway.db.session() as s:
        texts = (await s.execute(select(CareMessage.text).order_by(CareMessage.id))).scalars().all()
    assert texts == ["我想问问志愿证书怎么开", "我在坂田"]


async def test_the_contact_menu_tells_the_truth_and_waits_for_a_message(gateway: Gateway) -> None:
    answer = await gateway.event("o-inbox-2", "CLICK", "CONTACT")
    assert "12355" in answer.text and _hours(gateway) in answer.text
    assert "办公电话" not in answer.text  # no number is shown until staff have filled one in
    await gateway.dialog("o-inbox-2", [("可以帮我查下报名记录吗", "care.inbox_saved", {"hours": _hours(gateway)})])
    assert (await _contexts(gateway, "o-inbox-2"))[0]["via"] == "菜单「联系我们」"


async def test_cancelling_before_writing_leaves_nothing(gateway: Gateway) -> None:
    await gateway.dialog(
        "o-inbox-3",
        [
            ("人工", "care.inbox_ask", {"hours": _hours(gateway)}),
            ("取消", "care.inbox_cancelled"),
            ("取消", "care.nothing_to_cancel"),
        ],
    )
    async with gateway.db.session() as s:
        assert (await s.execute(select(func.count()).select_from(CareThread))).scalar_one() == 0


async def test_questions_about_staff_get_the_contact_details(gateway: Gateway) -> None:
    for text in ("客服电话", "联系我们", "我要找客服", "怎么联系工作人员"):
        answer = await gateway.say("o-inbox-4", text)
        assert answer.text.startswith("联系我们"), text
        assert "msgmenucontent=%E6%88%91%E8%A6%81%E7%95%99%E8%A8%80" in answer.text  # 「我要留言」


async def test_two_messages_at_once_share_one_thread(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway()
    users = [f"o-inbox-many-{i}" for i in range(12)]
    await asyncio.gather(*(gateway.say(u, "人工") for u in users))
    # Each person's two quick messages: serialised by the user lock, joined by the partial unique index.
    await asyncio.gather(*(gateway.say(u, f"第{n}条") for u in users for n in (1, 2)))
    async with gateway.db.session() as s:
        threads = (await s.execute(select(func.count()).select_from(CareThread))).scalar_one()
        messages = (await s.execute(select(func.count()).select_from(CareMessage))).scalar_one()
    assert threads == 12 and messages == 24


async def _delivered(gateway: Gateway, user: str) -> list[dict[str, Any]]:
    """What the fake platform received for ``user`` (passive replies are not in it), once it has."""

    def replies() -> list[dict[str, Any]]:
        return [m for m in gateway.fake.sent if m["touser"] == user]

    async def arrived() -> bool:
        return bool(replies())

    assert await poll(arrived), f"no staff reply reached {user}"
    return replies()


def _args(**kw: object) -> argparse.Namespace:
    return argparse.Namespace(**kw)


async def test_staff_list_show_reply_and_close(gateway: Gateway, capsys: pytest.CaptureFixture[str]) -> None:
    svc = gateway.services
    await gateway.say("o-inbox-5", "人工")
    await gateway.say("o-inbox-5", "请问志愿证书怎么开")
    await gateway.say("o-inbox-6", "我不想活了")
    await gateway.flush_users()
    urgent, plain = (await _thread(gateway, "o-inbox-6")).id, (await _thread(gateway, "o-inbox-5")).id

    assert await inbox_list(svc, _args(all=False)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [f"#{urgent}", f"#{plain}"]  # urgent first
    assert "紧急·自伤" in lines[0] and "窗口还剩" in lines[0]

    assert await inbox_show(svc, _args(id=plain)) == 0
    shown = capsys.readouterr().out
    assert "o-inbox-5" in shown and "请问志愿证书怎么开" in shown and "来源：人工" in shown

    assert await inbox_reply(svc, _args(id=plain, text=["到", "i志愿", "小程序里申请就行"])) == 0
    assert f"已排队，发送进程会把它发给 #{plain}。" in capsys.readouterr().out
    async with gateway.db.session() as s:
        out = (await s.execute(select(CareMessage).where(CareMessage.direction == "out"))).scalar_one()
    assert out.delivery == "queued" and (await _thread(gateway, "o-inbox-5")).status == "answered"
    [sent] = await _delivered(gateway, "o-inbox-5")  # by the web process's own worker
    assert sent["text"]["content"] == svc.content.text("care.staff_reply", text="到 i志愿 小程序里申请就行")

    assert await inbox_close(svc, _args(id=plain)) == 0
    assert await inbox_close(svc, _args(id=plain)) == 1  # closed already
    thread = await _thread(gateway, "o-inbox-5")
    assert thread.status == "closed" and thread.closed_at is not None
    # A new message after closing opens a new thread.
    await gateway.say("o-inbox-5", "人工")
    await gateway.say("o-inbox-5", "还有一个问题")
    async with gateway.db.session() as s:
        count = (await s.execute(select(func.count()).select_from(CareThread))).scalar_one()
    assert count == 3


async def test_a_reply_outside_the_48_hour_window_is_not_sent(
    gateway: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    await gateway.say("o-inbox-7", "人工")
    await gateway.say("o-inbox-7", "周末有人值班吗")
    await gateway.flush_users()
    three_days_ago = datetime.fromtimestamp(time.time() - 3 * 86400, UTC)
    async with gateway.db.session() as s:
        await s.execute(update(User).where(User.external_id == "o-inbox-7").values(last_seen=three_days_ago))
    thread = await _thread(gateway, "o-inbox-7")
    sent_before = len(gateway.fake.sent)
    assert await inbox_reply(gateway.services, _args(id=thread.id, text=["有的"])) == 1
    err = capsys.readouterr().err
    assert "48 小时客服消息窗口已关闭" in err
    assert len(gateway.fake.sent) == sent_before
    async with gateway.db.session() as s:
        assert (await s.execute(select(func.count()).where(CareMessage.direction == "out"))).scalar_one() == 0
    assert await inbox_list(gateway.services, _args(all=False)) == 0
    assert "窗口已关闭" in capsys.readouterr().out


class _Refusing:
    async def send(self, notice: Notice) -> SendResult:
        return SendResult(Status.DROPPED, "outside_window")


async def test_without_the_outbox_a_reply_the_platform_refuses_is_reported_plainly(
    make_gateway: GatewayFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway = await make_gateway(outbox=False)  # sent at once: the command hears the refusal
    await gateway.say("o-inbox-8", "人工")
    await gateway.say("o-inbox-8", "在吗")
    await gateway.flush_users()
    thread = await _thread(gateway, "o-inbox-8")
    gateway.services.notifier = _Refusing()
    assert await inbox_reply(gateway.services, _args(id=thread.id, text=["在的"])) == 1
    assert "48 小时客服消息窗口已关闭" in capsys.readouterr().err
    async with gateway.db.session() as s:
        out = (await s.execute(select(CareMessage).where(CareMessage.direction == "out"))).scalar_one()
    assert out.delivery == "dropped:outside_window"
    assert (await _thread(gateway, "o-inbox-8")).status == "open"


async def test_a_traditional_writer_gets_the_staff_reply_in_traditional(
    gateway: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    await gateway.say("o-inbox-9", "人工")
    await gateway.say("o-inbox-9", "請問義工證書怎麼開")
    await gateway.flush_users()
    thread = await _thread(gateway, "o-inbox-9")
    assert thread.hant
    assert await inbox_reply(gateway.services, _args(id=thread.id, text=["在小程序里申请"])) == 0
    expected = to_traditional(gateway.services.content.text("care.staff_reply", text="在小程序里申请"))
    [sent] = await _delivered(gateway, "o-inbox-9")
    assert sent["text"]["content"] == expected


async def test_asking_again_while_a_thread_is_open_keeps_the_new_context(
    gateway: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    await gateway.dialog("o-inbox-10", [("人工", "care.inbox_ask", {"hours": _hours(gateway)})])
    await gateway.say("o-inbox-10", "第一件事")
    await gateway.say("o-inbox-10", "好了")
    await gateway.say("o-inbox-10", "团费怎么交")
    await gateway.say("o-inbox-10", "人工")
    await gateway.say("o-inbox-10", "就是刚才那个")
    contexts = await _contexts(gateway, "o-inbox-10")
    assert contexts[1] == {"via": "人工", "recent": ["团费怎么交"]}
    assert await inbox_show(gateway.services, _args(id=(await _thread(gateway, "o-inbox-10")).id)) == 0
    shown = capsys.readouterr().out
    recent = shown.index("之前没答上的问题（已脱敏）：「团费怎么交」")
    assert shown.index("第一件事") < recent < shown.index("就是刚才那个")


def test_the_office_phone_and_address_are_shown_once_staff_fill_them_in() -> None:
    from dataclasses import replace

    from handlers.care.inbox import contact_params
    from tests.conftest import shared_content

    content, _ = shared_content()
    care = care_content(content)
    assert contact_params(care, content.text)["details"] == ""
    filled = replace(care, office=replace(care.office, phone="0755-00000000", address="龙岗区某路1号"))
    text = content.text("care.contact", **contact_params(filled, content.text))
    assert "· 办公电话：0755-00000000\n· 办公地址：龙岗区某路1号" in text


async def test_a_message_written_with_the_request_is_kept_at_once(gateway: Gateway) -> None:
    hours = _hours(gateway)
    await gateway.dialog(
        "o-inbox-11",
        [
            ("人工：志愿证书怎么开？", "care.inbox_saved", {"hours": hours}),
            ("学校下周要", "care.inbox_added"),
        ],
    )
    async with gateway.db.session() as s:
        texts = (await s.execute(select(CareMessage.text).order_by(CareMessage.id))).scalars().all()
    assert texts == ["志愿证书怎么开？", "学校下周要"]


async def test_a_message_that_could_not_be_stored_is_not_acknowledged(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(database_url="postgresql+asyncpg://postgres@127.0.0.1:9/down")
    await gateway.dialog(
        "o-inbox-12",
        [
            ("人工", "care.inbox_ask", {"hours": _hours(gateway)}),
            ("志愿证书怎么开", "care.inbox_not_saved"),
            ("人工：志愿证书怎么开", "care.inbox_not_saved"),
        ],
    )
