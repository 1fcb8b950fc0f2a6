"""Signing up by chat, through the signed WeChat entry: the profile flow, seats, the waitlist, cancelling."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import text

from bot.db.courses import signups
from tests.conftest import FixedClock, GatewayFactory
from tests.courses.support import NOW, add_class, add_profile, events, signup_rows
from tests.gateway.support import poll
from tests.harness import Gateway

STREET_NAMES = ["平湖", "布吉", "吉华", "坂田", "南湾", "横岗", "园山", "龙城", "龙岗", "宝龙", "坪地"]
STREETS = "\n".join(f"{i}. {s}" for i, s in enumerate(STREET_NAMES, 1))


@pytest.fixture
async def gw(make_gateway: GatewayFactory) -> Gateway:
    # The fixed clock is not the wall clock the simulator signs with: no replay window in these tests.
    return await make_gateway(clock=FixedClock(NOW), wechat_replay_window=0)


async def test_first_signup_asks_name_mobile_street_once_then_reuses_them(gw: Gateway) -> None:
    first = await add_class(gw.db, "C1", NOW + timedelta(days=2), title="光影入门")
    second = await add_class(gw.db, "C2", NOW + timedelta(days=3), title="人像构图", code="YX2002")
    await gw.dialog(
        "o-new",
        [
            (f"报名#{first}", "courses.ask_name", {"title": "光影入门"}),
            ("12345", "courses.name_invalid"),
            ("李小龙", "courses.ask_mobile", {"name": "李小龙"}),
            ("12800138000", "courses.mobile_invalid"),
            ("+852 5123 4567", "courses.ask_street", {"streets": STREETS}),
            ("火星", "courses.street_invalid", {"streets": STREETS}),
            ("4", "courses.profile_saved", {"name": "李小龙", "mobile": "+852****4567", "street": "坂田"}),
        ],
    )
    answer = await gw.say("o-new", f"报名#{second}")
    assert answer.text.startswith("报名成功"), answer.text
    assert "人像构图" in answer.text
    async with gw.db.session() as s:
        uid = (await s.execute(text("SELECT id FROM users WHERE external_id = 'o-new'"))).scalar_one()
        profile = await signups.profile(s, uid)
        street = (await s.execute(text("SELECT street FROM users WHERE id = :u"), {"u": uid})).scalar_one()
    assert profile == signups.Profile("李小龙", "+85251234567", "坂田")
    assert street == "坂田", "the street also becomes the account's street"
    assert [r[1:] for r in await signup_rows(gw.db, first)] == [("o-new", "confirmed")]
    assert await events(gw.db, first) == [("o-new", "signed_up", "user")]
    assert [r[2] for r in await signup_rows(gw.db, second)] == ["confirmed"]


async def test_a_saved_street_is_reused_and_not_asked(gw: Gateway) -> None:
    cls = await add_class(gw.db, "C1", NOW + timedelta(days=2))
    await gw.dialog(
        "o-street",
        [
            ("设置街道", "profile.ask_street", {"streets": STREETS}),
            ("布吉", "profile.street_saved", {"street": "布吉"}),
        ],
    )
    await gw.dialog(
        "o-street",
        [
            (f"报名#{cls}", "courses.ask_name", {"title": "光影入门"}),
            ("王芳", "courses.ask_mobile", {"name": "王芳"}),
            ("13912345678", "courses.profile_saved", {"name": "王芳", "mobile": "139****5678", "street": "布吉"}),
        ],
    )
    assert [r[2] for r in await signup_rows(gw.db, cls)] == ["confirmed"]


@pytest.mark.parametrize(("step", "said"), [("name", "取消"), ("mobile", "算了不报了"), ("street", "不想填了")])
async def test_the_profile_flow_can_be_cancelled_at_any_step(gw: Gateway, step: str, said: str) -> None:
    """「取消」, and the way people say it in a form (「算了不报了」「不想填了」), not read as an answer."""
    cls = await add_class(gw.db, "C1", NOW + timedelta(days=2))
    answers = {"name": "李小龙", "mobile": "61234567"}
    await gw.say("o-cancel", f"报名#{cls}")
    for name in ("name", "mobile", "street"):
        if name == step:
            break
        await gw.say("o-cancel", answers[name])
    await gw.dialog("o-cancel", [(said, "courses.flow_cancelled")])
    assert await signup_rows(gw.db, cls) == []
    async with gw.db.session() as s:
        assert (await s.execute(text("SELECT count(*) FROM course_profiles"))).scalar_one() == 0
    # Nothing of the flow is left: a number is not read as a street.
    await gw.dialog("o-cancel", [("4", "fallback.text")])


async def test_the_profile_flow_times_out_politely(make_gateway: GatewayFactory) -> None:
    clock = FixedClock(NOW)
    gw = await make_gateway(clock=clock, wechat_replay_window=0, flow_timeout=60)
    cls = await add_class(gw.db, "C1", NOW + timedelta(days=2))
    await gw.dialog("o-slow", [(f"报名#{cls}", "courses.ask_name", {"title": "光影入门"})])
    clock.advance(61)
    answer = await gw.say("o-slow", "李小龙")
    assert answer.text.startswith(gw.expected("system.flow_timeout")), answer.text
    assert await signup_rows(gw.db, cls) == []


async def test_a_full_class_waitlists_in_order_and_a_double_tap_changes_nothing(gw: Gateway) -> None:
    cls = await add_class(gw.db, "C1", NOW + timedelta(days=2), capacity=1)
    for user in ("o-1", "o-2", "o-3"):
        await add_profile(gw.db, user)
    detail = await gw.say("o-1", f"课程#{cls}")
    assert "余1席" in detail.text and "我要报名</a>" in detail.text
    await gw.dialog("o-1", [("报名", "courses.booked", {"title": "光影入门"} | _booked(gw, cls))])
    full = await gw.say("o-2", f"课程#{cls}")
    assert "名额：已满，0人在候补" in full.text and "排候补</a>" in full.text, full.text
    await gw.dialog("o-2", [(f"候补#{cls}", "courses.waitlisted", {"title": "光影入门", "position": 1})])
    await gw.dialog("o-3", [(f"报名#{cls}", "courses.waitlisted", {"title": "光影入门", "position": 2})])
    await gw.dialog("o-3", [(f"报名#{cls}", "courses.already_waiting", {"title": "光影入门", "position": 2})])
    await gw.dialog("o-1", [(f"报名#{cls}", "courses.already_booked", {"title": "光影入门"})])
    # The platform's retry of one message (same MsgId) is answered from the cache, handled once.
    from bot.channels.wechat.simulator import text_xml

    xml = text_xml("o-3", f"报名#{cls}", account="gh_longtuan", msg_id="24000000000000999")
    first, again = await gw.post(xml, "o-3"), await gw.post(xml, "o-3")
    assert first.text == again.text
    assert [r[1:] for r in await signup_rows(gw.db, cls)] == [
        ("o-1", "confirmed"),
        ("o-2", "waitlisted"),
        ("o-3", "waitlisted"),
    ]
    assert [e[1] for e in await events(gw.db, cls)] == ["signed_up", "waitlisted", "waitlisted"]


def _booked(gw: Gateway, cls: int) -> dict[str, str]:
    return {
        "when": "12月3日（周四）10:00–11:30",
        "venue": "坂田青年之家",
        "street": "坂田",
        "reminders": "开课前一晚和开课前2小时会提醒你。",
        "cancelling": "临时去不了，请在开课2小时前回复「取消报名」，把名额留给候补的小伙伴。",
    }


@pytest.mark.parametrize(
    ("starts_in", "promised"),
    [
        (timedelta(days=1), "开课前一晚和开课前2小时会提醒你。"),  # tomorrow 10:00: tonight at 20:00, then 08:00
        (timedelta(hours=8), "开课前2小时会提醒你。"),  # tonight: the evening before has passed
        (timedelta(minutes=5), ""),  # about to start: no reminder is coming
    ],
)
async def test_the_confirmation_promises_only_the_reminders_still_coming(
    gw: Gateway, starts_in: timedelta, promised: str
) -> None:
    cls = await add_class(gw.db, "C1", NOW + starts_in)
    await add_profile(gw.db, "o-1")
    answer = await gw.say("o-1", f"报名#{cls}")
    assert answer.text.startswith("报名成功"), answer.text
    lines = answer.text.splitlines()
    assert lines[4].startswith(promised), lines[4]
    assert ("提醒" in lines[4]) == bool(promised)
    # Within the two hours before the start a seat cannot be given back online: it says so, no button.
    late = starts_in <= timedelta(hours=2)
    assert ("已不能在线取消" in lines[4]) == late and ("回复「取消报名」" in lines[4]) == (not late)
    assert ("取消报名</a>" in answer.text) == (not late), answer.text


async def test_cancelling_promotes_the_first_waiting_who_is_told_and_sees_it(gw: Gateway) -> None:
    cls = await add_class(gw.db, "C1", NOW + timedelta(days=2), capacity=1)
    for user in ("o-1", "o-2", "o-3"):
        await add_profile(gw.db, user)
        await gw.say(user, f"报名#{cls}")
    when = _booked(gw, cls)["when"]
    # A typed 「取消报名」 names the class and waits for a tap: nothing is given away yet.
    asked = await gw.say("o-1", "取消报名")
    assert asked.text.startswith(
        gw.expected("courses.cancel_confirm", title="光影入门", when=when, what=gw.expected("courses.what_seat"))
    ), asked.text
    assert f"msgmenucontent={quote(f'取消报名#{cls}')}&" in asked.text, asked.text
    assert [r[2] for r in await signup_rows(gw.db, cls) if r[1] == "o-1"] == ["confirmed"]
    await gw.dialog("o-1", [(f"取消报名#{cls}", "courses.cancelled", {"title": "光影入门", "when": when})])

    async def told_someone() -> bool:
        return bool(gw.fake.sent)

    # The notice leaves after the answer (and after the commit): wait for it.
    assert await poll(told_someone)
    told = [m for m in gw.fake.sent if m["touser"] == "o-2"]
    assert len(told) == 1 and told[0]["text"]["content"].startswith("好消息🎉 你候补的「光影入门」有名额了")
    assert not [m for m in gw.fake.sent if m["touser"] == "o-3"]
    mine = await gw.say("o-2", "我的课程")
    assert "已报名" in mine.text, mine.text
    mine3 = await gw.say("o-3", "我的课程")
    assert "候补第1位" in mine3.text, mine3.text
    assert [r[1:] for r in await signup_rows(gw.db, cls)] == [
        ("o-1", "cancelled"),
        ("o-2", "confirmed"),
        ("o-3", "waitlisted"),
    ]
    recorded = await events(gw.db, cls)
    assert ("o-1", "cancelled", "user") in recorded
    first = (await signup_rows(gw.db, cls))[0][0]
    assert ("o-2", "promoted", f"cancel:{first}") in recorded


async def test_a_promoted_person_who_cannot_be_told_still_holds_the_seat(gw: Gateway) -> None:
    cls = await add_class(gw.db, "C1", NOW + timedelta(days=2), capacity=1)
    for user in ("o-1", "o-2"):
        await add_profile(gw.db, user)
        await gw.say(user, f"报名#{cls}")
    gw.fake.fail_next("/cgi-bin/message/custom/send", 45015)  # o-2 is outside the 48-hour window
    await gw.say("o-1", f"取消报名#{cls}")

    async def refused() -> bool:
        return ("/cgi-bin/message/custom/send", "45015") in gw.fake.calls

    assert await poll(refused)
    assert not [m for m in gw.fake.sent if m["touser"] == "o-2"]
    assert "已报名" in (await gw.say("o-2", "我的课程")).text


async def test_a_late_cancellation_is_refused_with_the_reason(make_gateway: GatewayFactory) -> None:
    clock = FixedClock(NOW)
    gw = await make_gateway(clock=clock, wechat_replay_window=0)
    cls = await add_class(gw.db, "C1", NOW + timedelta(hours=5))
    await add_profile(gw.db, "o-late")
    await gw.say("o-late", f"报名#{cls}")
    clock.advance(4 * 3600)  # an hour before the class: inside the 2-hour limit
    await gw.dialog(
        "o-late",
        [
            (
                "取消报名",
                "courses.cancel_too_late",
                {"title": "光影入门", "hours": "2小时", "deadline": "12月1日（周二）13:00"},
            )
        ],
    )
    assert [r[2] for r in await signup_rows(gw.db, cls)] == ["confirmed"]


async def test_sign_up_by_name_and_the_friendly_refusals(gw: Gateway) -> None:
    cls = await add_class(gw.db, "C1", NOW + timedelta(days=2), theme="咖啡拉花", title="拉花入门")
    await add_class(gw.db, "C2", NOW - timedelta(days=1), theme="咖啡拉花", title="已经结束的课", code="YX2002")
    await add_profile(gw.db, "o-name")
    answer = await gw.say("o-name", "报名咖啡课")
    assert answer.text.startswith("报名成功") and "拉花入门" in answer.text, answer.text
    await gw.dialog(
        "o-name",
        [
            ("报名钢琴课", "courses.no_such_class", {"name": "钢琴"}),
            ("课程#99999", "courses.not_found"),
            ("报名#99999", "courses.not_found"),
            ("取消报名#99999", "courses.not_found"),
        ],
    )
    assert [r[2] for r in await signup_rows(gw.db, cls)] == ["confirmed"]


async def test_sign_up_by_the_number_of_the_list_just_shown(gw: Gateway) -> None:
    await add_class(gw.db, "C1", NOW + timedelta(days=2), title="光影入门")
    second = await add_class(gw.db, "C2", NOW + timedelta(days=3), title="人像构图", code="YX2002")
    await add_profile(gw.db, "o-pick")
    listed = await gw.say("o-pick", "夜校有什么课")
    assert listed.text.index("光影入门") < listed.text.index("人像构图")
    answer = await gw.say("o-pick", "报名 2")
    assert answer.text.startswith("报名成功") and "人像构图" in answer.text, answer.text
    assert [r[1:] for r in await signup_rows(gw.db, second)] == [("o-pick", "confirmed")]
    # Without a list before it, 「报名 1」 names nothing: how to sign up for each programme.
    await gw.dialog("o-no-list", [("报名 1", "care.which_sign_up")])


async def test_a_blocked_person_is_told_until_when(gw: Gateway) -> None:
    uid = await add_profile(gw.db, "o-absent")
    past = [await add_class(gw.db, f"P{i}", NOW - timedelta(days=10 * i), code=f"YX300{i}") for i in (1, 2)]
    cls = await add_class(gw.db, "C1", NOW + timedelta(days=2))
    async with gw.db.session() as s:
        for class_id in past:
            await s.execute(
                text(
                    "INSERT INTO course_signups (class_id, user_id, status, created_at, updated_at)"
                    " VALUES (:c, :u, 'no_show', :at, :at)"
                ),
                {"c": class_id, "u": uid, "at": NOW},
            )
    # The later no-show was 10 days ago: blocked for 30 days from it, until 12月21日.
    await gw.dialog(
        "o-absent", [(f"报名#{cls}", "courses.blocked", {"limit": 2, "days": 90, "until": "12月21日（周一）"})]
    )
    assert await signup_rows(gw.db, cls) == []


async def test_another_question_inside_the_profile_flow_is_answered_and_the_flow_waits(gw: Gateway) -> None:
    """「我的时长」 while the name is asked was kept as the name, and a search while the mobile was
    asked heard "not a number": each is answered as anywhere, the flow says it still waits, and
    the next real answer goes on where it was."""
    cls = await add_class(gw.db, "C1", NOW + timedelta(days=2), title="光影入门")
    paused = gw.expected("system.flow_paused", flow=gw.expected("flows.course_signup"))
    await gw.dialog("o-other", [(f"报名#{cls}", "courses.ask_name", {"title": "光影入门"})])
    for said in ("我的时长", "我的课程", "附近有什么志愿活动"):
        answer = await gw.say("o-other", said)
        assert answer.text.endswith(paused), f"{said}: {answer.text}"
        assert not answer.text.startswith(gw.expected("courses.ask_mobile", name=said)), said
    await gw.dialog("o-other", [("李小龙", "courses.ask_mobile", {"name": "李小龙"})])
    answer = await gw.say("o-other", "附近有什么志愿活动")
    assert answer.text.endswith(paused) and gw.expected("courses.mobile_invalid") not in answer.text, answer.text
    await gw.dialog("o-other", [("12800138000", "courses.mobile_invalid")])  # a wrong number is still told so
    await gw.dialog("o-other", [("13912345678", "courses.ask_street", {"streets": STREETS})])
    answer = await gw.say("o-other", "我的时长")
    assert answer.text.endswith(paused), answer.text
    await gw.dialog(
        "o-other", [("4", "courses.profile_saved", {"name": "李小龙", "mobile": "139****5678", "street": "坂田"})]
    )
    assert [r[2] for r in await signup_rows(gw.db, cls)] == ["confirmed"]


async def _profile(gw: Gateway, openid: str) -> tuple[str, str, str] | None:
    async with gw.db.session() as s:
        row = (
            await s.execute(
                text(
                    "SELECT p.name, p.mobile, p.street FROM course_profiles p JOIN users u ON u.id = p.user_id"
                    " WHERE u.external_id = :o"
                ),
                {"o": openid},
            )
        ).first()
    return (row[0], row[1], row[2]) if row is not None else None


async def test_the_saved_details_can_be_changed_by_chat(gw: Gateway) -> None:
    """「修改手机号」: the first signup's steps again, for no class; 「取消」 on the way changes nothing."""
    user = "o-edit"
    await gw.dialog(
        user,
        [
            ("修改手机号", "courses.edit_ask_name"),
            ("李雷", "courses.ask_mobile", {"name": "李雷"}),
            ("13912345678", "courses.ask_street", {"streets": STREETS}),
            ("坂田", "courses.profile_updated", {"name": "李雷", "mobile": "139****5678", "street": "坂田"}),
        ],
    )
    assert await _profile(gw, user) == ("李雷", "13912345678", "坂田")
    await gw.dialog(
        user,
        [
            ("修改报名信息", "courses.edit_ask_name"),
            ("李雷", "courses.ask_mobile", {"name": "李雷"}),
            ("取消", "courses.edit_cancelled"),
        ],
    )
    assert await _profile(gw, user) == ("李雷", "13912345678", "坂田")
    await gw.dialog(
        user,
        [
            ("换手机号", "courses.edit_ask_name"),
            ("李雷", "courses.ask_mobile", {"name": "李雷"}),  # the street is known now: not asked again
            ("+852 51234567", "courses.profile_updated", {"name": "李雷", "mobile": "+852****4567", "street": "坂田"}),
        ],
    )
    assert await _profile(gw, user) == ("李雷", "+85251234567", "坂田")
