"""``longtuan import classes FILE`` (all or nothing, idempotent); ``longtuan classes list | roster | qr``."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.commands.courses import class_qr, import_classes
from bot.context import Services
from bot.db.courses import catalogue, sessions, signups
from bot.notifier import RecordingNotifier
from tests.courses.support import NOW, SHANGHAI, add_profile, signup_rows
from tests.fakes.wechat_api import FakeWeChatAPI

HEADER = "编号,主题,课程,老师,地点,街道,开始时间,结束时间,名额,签到码,状态\n"
GOOD = (
    HEADER
    + "2026-PH-01,手机摄影,光影入门,陈老师,坂田青年之家,坂田,2026-12-05 19:30,21:00,30,YX4821,\n"
    + "2026-CF-01,咖啡拉花,拉花入门,林老师,布吉青年之家,布吉街道,2026-12-06 19:30,2026-12-06 21:00,20,,开放\n"
    + "2026-FY-01,非遗手作,扎染体验,黄老师,龙城青年之家,龙城,2026/12/07 14:00,16:00,25,,\n"
)


def write(tmp_path: Path, body: str, name: str = "classes.csv") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8-sig")
    return path


async def run_import(services: Services, path: Path) -> int:
    return await import_classes(services, argparse.Namespace(file=str(path)))


async def classes(services: Services) -> list[tuple[str, str, int, str, str, datetime]]:
    async with services.db.session() as s:
        rows = await s.execute(
            text("SELECT ref, title, capacity, checkin_code, status, starts_at FROM course_classes ORDER BY ref")
        )
        return [tuple(r) for r in rows]


async def test_import_then_the_same_file_again_changes_nothing(
    services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD)
    assert await run_import(services, path) == 0
    assert "共 3 门课，新增 3，更新 0，未变 0" in capsys.readouterr().out
    first = await classes(services)
    assert [(r[0], r[2], r[4]) for r in first] == [
        ("2026-CF-01", 20, "open"),
        ("2026-FY-01", 25, "open"),
        ("2026-PH-01", 30, "open"),
    ]
    assert first[2][3] == "YX4821" and all(r[3].startswith("YX") for r in first)
    assert first[2][5] == datetime(2026, 12, 5, 19, 30, tzinfo=SHANGHAI)

    assert await run_import(services, path) == 0
    assert "新增 0，更新 0，未变 3" in capsys.readouterr().out
    assert await classes(services) == first, "generated codes are kept, nothing rewritten"
    async with services.db.session() as s:
        themes = (await s.execute(text("SELECT count(*) FROM course_themes"))).scalar_one()
    assert themes == 3


async def test_every_bad_value_is_named_and_nothing_is_imported(
    services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = (
        HEADER
        + "A1,手机摄影,光影入门,陈老师,坂田青年之家,坂田,2026-12-05 19:30,21:00,30,,\n"
        + "A2,手机摄影,人像,陈老师,坂田青年之家,火星,2026-12-05 19:30,21:00,30,,\n"
        + "A1,手机摄影,人像,陈老师,坂田青年之家,坂田,12月5日,21:00,0,YX12,暂停\n"
        + "A4,手机摄影,人像,,坂田青年之家,坂田,2026-12-05 19:30,18:00,30,,\n"
    )
    assert await run_import(services, write(tmp_path, bad)) == 1
    err = capsys.readouterr().err
    for expected in (
        "第 3 行「街道」列",
        "第 4 行「编号」列：和第 2 行重复",
        "第 4 行「开始时间」列",
        "第 4 行「名额」列",
        "第 4 行「签到码」列",
        "第 4 行「状态」列",
        "第 5 行「老师」列：不能为空",
        "第 5 行「结束时间」列：要晚于开始时间",
    ):
        assert expected in err, (expected, err)
    assert await classes(services) == []
    missing = write(tmp_path, "编号,主题\nA1,摄影\n", "short.csv")
    assert await run_import(services, missing) == 1
    assert "第 1 行「课程」列：缺少这一列" in capsys.readouterr().err


async def test_a_code_in_use_and_a_capacity_below_the_seats_taken_are_refused(
    services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_import(services, write(tmp_path, GOOD)) == 0
    async with services.db.session() as s:
        cls = await catalogue.by_ref(s, "2026-CF-01")
    assert cls is not None
    for n in range(3):
        uid = await add_profile(services.db, f"o-{n}")
        async with sessions.autocommit(services.db) as a:
            await signups.sign_up(a, cls.id, uid, NOW)
    lowered = GOOD.replace("21:00,20,,开放", "21:00,2,YX4821,开放")
    assert await run_import(services, write(tmp_path, lowered)) == 1
    err = capsys.readouterr().err
    assert "第 3 行「名额」列：已有 3 人报上" in err and "第 3 行「签到码」列：已被编号 2026-PH-01 的课使用" in err


async def test_more_seats_promote_those_waiting_and_a_cancelled_class_is_told(
    services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = GOOD.replace("21:00,20,,开放", "21:00,1,,开放")
    assert await run_import(services, write(tmp_path, small)) == 0
    async with services.db.session() as s:
        cls = await catalogue.by_ref(s, "2026-CF-01")
    assert cls is not None
    for user in ("o-first", "o-second", "o-third"):
        uid = await add_profile(services.db, user)
        async with sessions.autocommit(services.db) as a:
            await signups.sign_up(a, cls.id, uid, NOW)
    assert await run_import(services, write(tmp_path, small.replace("21:00,1,,开放", "21:00,2,,开放"))) == 0
    assert [r[2] for r in await signup_rows(services.db, cls.id)] == ["confirmed", "confirmed", "waitlisted"]
    notifier = services.notifier
    assert isinstance(notifier, RecordingNotifier)
    assert [(n.user_id, n.purpose) for n in notifier.notices] == [("o-second", "waitlist_promoted")]

    cancelled = small.replace("21:00,1,,开放", "21:00,2,,取消")
    assert await run_import(services, write(tmp_path, cancelled)) == 0
    told = [(n.user_id, n.purpose) for n in notifier.notices[1:]]
    assert told == [("o-first", "class_cancelled"), ("o-second", "class_cancelled"), ("o-third", "class_cancelled")]
    assert "新增 0，更新 1，未变 2" in capsys.readouterr().out.splitlines()[-1]


async def test_classes_qr_prints_the_scene_and_creates_the_permanent_code(
    services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_wechat: FakeWeChatAPI
) -> None:
    assert await run_import(services, write(tmp_path, GOOD)) == 0
    capsys.readouterr()
    assert await class_qr(services, argparse.Namespace(cls="2026-PH-01")) == 0
    out = capsys.readouterr().out
    async with services.db.session() as s:
        cls = await catalogue.by_ref(s, "2026-PH-01")
    assert cls is not None
    assert f"二维码场景：class-{cls.id}" in out and "签到码：YX4821" in out
    assert fake_wechat.qr_codes == [
        {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": f"class-{cls.id}"}}}
    ]
    assert "二维码图片：https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=" in out
    assert await class_qr(services, argparse.Namespace(cls=str(cls.id))) == 0
    assert await class_qr(services, argparse.Namespace(cls="NO-SUCH")) == 1


async def test_the_fake_refuses_a_scene_longer_than_64_characters(services: Services) -> None:
    from bot.channels.wechat.api import WeChatAPIError

    assert services.wechat is not None
    with pytest.raises(WeChatAPIError) as failed:
        await services.wechat.create_qr_scene("x" * 65)
    assert failed.value.errcode == 40097
    answer = await services.wechat.create_qr_scene("class-1")
    assert answer["ticket"] and answer["url"].startswith("http://weixin.qq.com/q/")


async def test_classes_list_and_roster_show_seats_the_waitlist_and_check_ins(
    services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the staff at a venue need: the classes with seats taken and people waiting, and a
    class's people in order (seated, then waiting by place), mobiles masked unless asked."""
    from bot.commands.courses import class_list, class_roster
    from bot.db.courses import attendance

    assert await class_list(services, argparse.Namespace(all=False)) == 0
    assert "没有还没开始的课程" in capsys.readouterr().out
    small = GOOD.replace(",30,YX4821,", ",2,YX4821,")
    assert await run_import(services, write(tmp_path, small)) == 0
    async with services.db.session() as s:
        cls = await catalogue.by_ref(s, "2026-PH-01")
    assert cls is not None
    users = [await add_profile(services.db, f"o-roster-{i}") for i in range(4)]
    async with sessions.autocommit(services.db) as s:
        for uid in users:
            await signups.sign_up(s, cls.id, uid, NOW)
    async with services.db.session() as s:
        await attendance.check_in(s, cls.id, users[0], NOW, "code")
    capsys.readouterr()
    assert await class_list(services, argparse.Namespace(all=False)) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].split("\t") == ["编号", "id", "时间", "课程", "地点", "已报/名额", "候补", "状态"]
    assert listed[1].split("\t")[0] == "2026-PH-01" and listed[1].split("\t")[5:] == ["2/2", "2", "报名中"]
    assert listed[-1] == "共 3 门"

    assert await class_roster(services, argparse.Namespace(cls="2026-PH-01", full_mobile=False)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "名额 2，已报 2（已签到 1），候补 2"
    people = [line.split("\t") for line in out[2:]]
    assert [p[:3] for p in people] == [
        ["李小龙", "138****8000", "已签到"],
        ["李小龙", "138****8000", "已报名"],
        ["李小龙", "138****8000", "候补第1位"],
        ["李小龙", "138****8000", "候补第2位"],
    ]
    assert people[0][4] == "10:00 签到"
    assert await class_roster(services, argparse.Namespace(cls=str(cls.id), full_mobile=True)) == 0
    assert "13800138000\t已签到" in capsys.readouterr().out
    assert await class_roster(services, argparse.Namespace(cls="NO-SUCH", full_mobile=False)) == 1
