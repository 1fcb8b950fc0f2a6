"""Finding projects and signing up, through the signed WeChat entry."""

from __future__ import annotations

from sqlalchemy import select

from bot.channels.wechat.simulator import location_xml
from bot.db.volunteer.tables import Shift, Signup
from tests.volunteer.conftest import Site
from tests.volunteer.support import BANTIAN

USER = "o_volunteer_find_0001"
BT = "坂田社区环境清洁"
BJ = "布吉图书角整理"


async def _shift(site: Site, shift_id: int) -> Shift:
    async with site.gw.db.session() as s:
        found = await s.get(Shift, shift_id)
        assert found is not None
        return found


async def test_menu_lists_upcoming_projects_and_opens_one(site: Site) -> None:
    gw = site.gw
    answer = await site.event(USER, "CLICK", "VOLUNTEER")
    assert answer.text.startswith("志愿服务🤝\n近期招募中的项目：\n1. 坂田社区环境清洁（坂田）12月1日（周二）10:30")
    assert "2. 布吉图书角整理（布吉）12月1日（周二）11:00" in answer.text
    detail = await gw.say(USER, "1")
    assert detail.text.startswith(f"{BT}\n组织：坂田街道志愿服务队\n地点：坂田街道华为基地南门（坂田街道）")
    assert "1. 12月1日（周二）10:30–13:30，剩 5 个名额" in detail.text
    assert "2. 12月2日（周三）10:00–12:00，剩 5 个名额" in detail.text
    assert "请携带：手套、水杯" in detail.text


async def test_search_by_street_and_by_date(site: Site) -> None:
    gw = site.gw
    by_street = await gw.say(USER, "布吉的志愿项目")
    assert by_street.text.startswith("布吉街道近期的项目：\n1. 布吉图书角整理")
    assert BT not in by_street.text
    tomorrow = await gw.say(USER, "明天的志愿活动")
    assert tomorrow.text.startswith("明天的志愿项目：\n1. 坂田社区环境清洁（坂田）12月2日（周三）10:00")
    weekend = await gw.say(USER, "周末的志愿活动")
    assert weekend.text == gw.expected("volunteer.none_found", heading="周末的志愿项目：")
    # A how-question stays the FAQ's.
    await gw.dialog(USER, [("志愿时长怎么查", "faq.volunteer.hours")])


async def test_a_shift_under_way_is_listed_as_under_way(site: Site) -> None:
    """Someone at the site during a shift sees it listed now, not next week's date; an ended one is not listed."""
    gw = site.gw
    site.clock.advance(3600)  # 11:00: the 10:30 shift is on until 13:30
    by_street = await gw.say(USER, "坂田的志愿项目")
    assert by_street.text.startswith("坂田街道近期的项目：\n1. 坂田社区环境清洁（坂田）正在进行"), by_street.text
    site.clock.advance(3 * 3600)  # 14:00: it ended; the next is tomorrow's
    later = await gw.say(USER, "坂田的志愿项目")  # the list seen at 11:00 lapsed without a word
    assert later.text.startswith("坂田街道近期的项目：\n1. 坂田社区环境清洁（坂田）12月2日（周三）10:00"), later.text


async def test_nearby_from_a_sent_location_nearest_first(site: Site) -> None:
    gw = site.gw
    asked = await gw.say(USER, "附近有什么志愿活动")
    assert asked.text == gw.expected("volunteer.ask_location")
    xml = location_xml(USER, BANTIAN[0] - 0.01, BANTIAN[1], "坂田", at=int(site.clock()))
    located = await gw.post(xml, USER)
    assert located.text.startswith("你附近的项目（由近到远）：\n1. 坂田社区环境清洁 1.1公里")
    assert BJ not in located.text  # 8 km: outside the 5 km search
    again = await gw.say(USER, "附近的志愿活动")  # the location is remembered for 10 minutes
    assert again.text.startswith("你附近的项目（由近到远）：\n1. 坂田社区环境清洁 1.1公里")


async def test_sign_up_then_cancel_frees_the_seat(site: Site) -> None:
    gw = site.gw
    await site.event(USER, "CLICK", "VOLUNTEER")
    await gw.say(USER, "1")
    signed = await gw.say(USER, "报名 2")
    assert signed.text == gw.expected(
        "volunteer.signed_up", title=BT, when="12月2日（周三）10:00–12:00", place="坂田街道华为基地南门"
    )
    assert (await _shift(site, site.data.tomorrow_shift)).taken == 1
    # 「取消报名」 (the night school's word) from someone with no class: their shifts to pick from.
    mine = await gw.say(USER, "取消报名")
    assert mine.text.startswith(f"你报名的班次：\n1. {BT} 12月2日（周三）10:00–12:00")
    await gw.dialog(USER, [("1", "volunteer.cancel_done", {"title": BT, "when": "12月2日（周三）10:00–12:00"})])
    assert (await _shift(site, site.data.tomorrow_shift)).taken == 0
    async with gw.db.session() as s:
        [row] = (await s.scalars(select(Signup))).all()
    assert row.cancelled_at is not None
    await gw.dialog(
        USER,
        [
            ("我的志愿报名", "volunteer.signups_none"),
            ("取消报名", "volunteer.nothing_to_cancel"),
            ("退课", "courses.mine_empty"),
        ],
    )


async def test_sign_up_by_the_number_of_the_list(site: Site) -> None:
    """「报名 2」 on the list: a project with one shift is signed up at once; one with several opens."""
    gw = site.gw
    await site.event(USER, "CLICK", "VOLUNTEER")
    signed = await gw.say(USER, "报名 2")
    assert signed.text.startswith(gw.expected("volunteer.signed_up", title=BJ, when="", place="")[:6]), signed.text
    assert BJ in signed.text
    assert (await _shift(site, site.data.buji_shift)).taken == 1
    site.clock.advance(1)  # a click in the same second would be a retry of the first
    await site.event(USER, "CLICK", "VOLUNTEER")
    opened = await gw.say(USER, "报名 1")
    assert opened.text.startswith(f"{BT}\n组织：") and "回复「报名 序号」" in opened.text, opened.text
    assert (await _shift(site, site.data.tomorrow_shift)).taken == 0
    await gw.dialog(USER, [("报名 9", "volunteer.bad_choice")])


async def test_signing_up_twice_and_for_a_started_shift(site: Site) -> None:
    gw = site.gw
    await site.event(USER, "CLICK", "VOLUNTEER")
    await gw.say(USER, "1")
    await gw.say(USER, "报名 2")
    await gw.dialog(USER, [("1", "fallback.text")])  # the flow has ended: a bare number is nobody's
    site.clock.advance(1)  # a click in the same second would be a retry of the first
    await site.event(USER, "CLICK", "VOLUNTEER")
    await gw.say(USER, "1")
    await gw.dialog(USER, [("报名 2", "volunteer.signup_already"), ("报名 9", "volunteer.bad_choice")])
    site.clock.advance(3600)  # 11:00: shift 1 has started (and the flow has timed out)
    await site.event(USER, "CLICK", "VOLUNTEER")
    await gw.say(USER, "1")
    await gw.dialog(USER, [("报名 1", "volunteer.signup_started")])
    await gw.dialog(USER, [("取消", "system.cancelled")])


async def test_a_signed_up_volunteer_is_no_walk_in(site: Site) -> None:
    gw = site.gw
    await site.event(USER, "CLICK", "VOLUNTEER")
    await gw.say(USER, "1")
    await gw.say(USER, "报名 1")
    await gw.say(USER, "签到 381204")
    shift = await _shift(site, site.data.now_shift)
    assert shift.taken == 1  # the signup's seat, not a second one
    # A shift checked in to is no longer offered for cancelling.
    await gw.dialog(USER, [("我的志愿报名", "volunteer.signups_none")])


async def test_paging_with_more(site: Site) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.db.volunteer.tables import Project

    gw = site.gw
    at = datetime.fromtimestamp(site.clock(), UTC)
    async with gw.db.session() as s:
        for i in range(7):
            p = Project(
                code=f"extra-{i}",
                team_id=1,
                title=f"额外项目{i}",
                street="龙城",
                place="龙城广场",
                latitude=22.72,
                longitude=114.24,
                radius_m=300,
            )
            s.add(p)
            await s.flush()
            s.add(
                Shift(
                    project_id=p.id,
                    code=f"50000{i}",
                    starts_at=at + timedelta(hours=5 + i),
                    ends_at=at + timedelta(hours=6 + i),
                    seats=3,
                )
            )
    first = await gw.say(USER, "龙城的志愿项目")
    assert "5. 额外项目4" in first.text and "6." not in first.text and "「更多」" in first.text
    second = await gw.say(USER, "更多")
    assert second.text.startswith("龙城街道近期的项目：\n6. 额外项目5（龙城）12月1日（周二）20:00\n7. 额外项目6")
    await gw.dialog(USER, [("更多", "volunteer.no_more")])
    detail = await gw.say(USER, "7")
    assert detail.text.startswith("额外项目6")
