"""The volunteering commands: import projects, export and correct hours, a shift's QR scene."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.commands.volunteer import (
    correct_hours,
    export_hours,
    import_projects,
    shift_qr,
    shift_roster,
    show_hours,
)
from bot.context import Services
from bot.db.users import ensure_user
from bot.db.volunteer import ledger, profiles
from bot.db.volunteer.demo import load as load_demo
from bot.db.volunteer.tables import CheckIn, LedgerEntry, Project, Shift, Team
from tests.conftest import PG_URL, FixedClock
from tests.fakes.wechat_api import FakeWeChatAPI
from tests.volunteer.support import seed

ROOT = Path(__file__).resolve().parents[2]
HEADER = "项目编号,项目名称,队伍编号,队伍名称,街道,地点,纬度,经度,签到半径,携带物品,项目简介,班次开始,班次结束,名额"
_LC = "lc-001,龙城广场清洁,lc-t1,龙城青年志愿队,龙城,龙城广场,22.7209,114.2468,400,手套,清洁广场"
GOOD = [
    f"{_LC},2026-12-05 09:00,2026-12-05 12:00,20",
    f"{_LC},2026-12-12 09:00,2026-12-12 12:00,20",
    "pd-001,坪地课业辅导,pd-t1,坪地志愿港湾,坪地街道,坪东社区青年之家,22.7741,114.3151,,笔,,"
    "2026-12-06 16:30,2026-12-06 18:30,6",
]


def _file(tmp: Path, *rows: str) -> Path:
    path = tmp / "projects.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


async def _count(services: Services, table: type) -> int:
    async with services.db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(table)) or 0)


async def test_import_projects_is_idempotent(
    services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path, *GOOD)
    for _ in range(2):
        assert await import_projects(services, argparse.Namespace(file=str(path))) == 0
        assert "队伍 2 个，项目 2 个，班次 3 个" in capsys.readouterr().out
    assert (await _count(services, Team), await _count(services, Project), await _count(services, Shift)) == (2, 2, 3)
    async with services.db.session() as s:
        codes = (await s.scalars(select(Shift.code))).all()
        radius = await s.scalar(select(Project.radius_m).where(Project.code == "pd-001"))
    assert len(set(codes)) == 3 and all(len(c) == 6 and c.isdigit() for c in codes)
    assert radius == 500  # the default


async def test_import_names_every_bad_value_and_writes_nothing(
    services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = [
        GOOD[0],
        "x-1,某项目,t,某队,深圳湾,某地,114.2468,22.7209,,,,2026-12-05 09:00,2026-12-05 08:00,0",
        "x-2,某项目,t2,某队,龙岗,某地,22.72,114.24,10,,,2026/12/05,2026-12-05 12:00,3",
    ]
    assert await import_projects(services, argparse.Namespace(file=str(_file(tmp_path, *bad)))) == 1
    err = capsys.readouterr().err
    assert "第 3 行「街道」列：「深圳湾」不是龙岗区的街道" in err
    assert "第 3 行「纬度」列：坐标不在龙岗附近" in err
    assert "第 3 行「名额」列：要填正整数" in err
    assert "第 3 行「班次结束」列：要晚于班次开始" in err
    assert "第 4 行「签到半径」列" in err and "第 4 行「班次开始」列：时间格式应为" in err
    assert await _count(services, Project) == 0


async def _history(services: Services, clock: FixedClock) -> tuple[int, int]:
    data = await seed(services.db, clock())
    at = datetime.fromtimestamp(clock(), UTC) - timedelta(hours=3)
    async with services.db.session() as s:
        user_id = await ensure_user(s, "wechat", "o_export_0001", clock())
        other = await ensure_user(s, "wechat", "o_export_0002", clock())
        await profiles.save(s, services.sealer, user_id, "王小明", "11010519491231002X", at.timestamp())
        for who in (user_id, other):
            row = CheckIn(
                shift_id=data.ended_shift,
                user_id=who,
                checked_in_at=at,
                checked_out_at=at + timedelta(hours=2),
                via="qr",
                verified=True,
                walk_in=False,
            )
            s.add(row)
            await s.flush()
            s.add(
                LedgerEntry(
                    user_id=who,
                    kind="service",
                    hours=Decimal(2),
                    checkin_id=row.id,
                    project_id=data.project,
                    served_on=datetime.fromtimestamp(clock(), UTC).date(),
                    started_at=at,
                    ended_at=at + timedelta(hours=2),
                    created_at=at,
                )
            )
    return user_id, other


async def test_export_masks_id_numbers_unless_asked(
    services: Services, clock: FixedClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await _history(services, clock)
    out = tmp_path / "hours.csv"

    def ns(**kw: object) -> argparse.Namespace:
        base = {"since": datetime(2026, 12, 1).date(), "until": datetime(2026, 12, 31).date(), "team": None}
        return argparse.Namespace(**{**base, "out": str(out), "full_id": False, **kw})

    assert await export_hours(services, ns()) == 0
    said = capsys.readouterr().err
    assert "导出 2 条时长记录" in said and "其中 1 条的志愿者还没做「志愿者登记」" in said, said
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert rows[0][:8] == [
        "姓名",
        "证件号码",
        "项目名称",
        "组织单位",
        "服务日期",
        "开始时间",
        "结束时间",
        "服务时长(小时)",
    ]
    assert rows[1][:8] == [
        "王小明",
        "110***********002X",
        "坂田社区环境清洁",
        "坂田街道志愿服务队",
        "2026-12-01",
        "07:00",
        "09:00",
        "2",
    ]
    assert rows[2][:2] == ["", ""]  # not registered: no name, no number, and 备注 says so
    assert rows[2][9].startswith("未做志愿者登记"), rows[2]
    assert "11010519491231002X" not in out.read_text(encoding="utf-8-sig")
    assert await export_hours(services, ns(full_id=True)) == 0
    assert "11010519491231002X" in out.read_text(encoding="utf-8-sig")
    assert await export_hours(services, ns(team="no-such-team")) == 0
    assert len(out.read_text(encoding="utf-8-sig").splitlines()) == 1
    assert await export_hours(services, ns(since=datetime(2026, 12, 2).date())) == 0
    assert len(out.read_text(encoding="utf-8-sig").splitlines()) == 1


async def test_correct_appends_and_show_lists(
    services: Services, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    user_id, _ = await _history(services, clock)
    async with services.db.session() as s:
        [entry] = await ledger.entries(s, user_id)
    args = argparse.Namespace(
        user="o_export_0001",
        channel="wechat",
        hours=Decimal("-0.5"),
        reason="提前离场",
        author="李老师",
        entry=entry.id,
        date=None,
    )
    assert await correct_hours(services, args) == 0
    assert "累计 1.5 小时" in capsys.readouterr().out
    assert await correct_hours(services, argparse.Namespace(**{**vars(args), "reason": " "})) == 2
    assert "更正需要写明原因" in capsys.readouterr().err
    assert await correct_hours(services, argparse.Namespace(**{**vars(args), "user": "nobody"})) == 1
    assert "没有这个用户：wechat:nobody" in capsys.readouterr().err
    assert await show_hours(services, argparse.Namespace(user="o_export_0001", channel="wechat")) == 0
    shown = capsys.readouterr().out
    assert f"更正 #{entry.id}" in shown and "提前离场（李老师）" in shown and "累计 1.5 小时（2 条记录）" in shown
    async with services.db.session() as s:
        assert await ledger.total_hours(s, user_id) == Decimal("1.5")


async def test_shift_qr_creates_a_permanent_scene(
    services: Services, clock: FixedClock, fake_wechat: FakeWeChatAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    data = await seed(services.db, clock())
    assert await shift_qr(services, argparse.Namespace(shift="381204")) == 0
    out = capsys.readouterr().out
    assert f"二维码场景：shift-{data.now_shift}" in out and "签到码：381204" in out
    assert "showqrcode?ticket=gQ" in out
    assert fake_wechat.qr_scenes == [f"shift-{data.now_shift}"]
    assert await shift_qr(services, argparse.Namespace(shift=str(data.tomorrow_shift))) == 0
    assert await shift_qr(services, argparse.Namespace(shift="nope")) == 1
    assert "没有编号或 id 为 nope 的班次" in capsys.readouterr().err


async def test_roster_shows_who_is_verified(
    services: Services, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    await _history(services, clock)
    assert await shift_roster(services, argparse.Namespace(shift="381206")) == 0
    out = capsys.readouterr().out
    assert "签到 2 人" in out
    assert "王小明\to_export_0001\t07:00\t09:00\t位置已核验" in out
    assert "（未登记）\to_export_0002" in out


async def test_demo_has_every_street_and_is_idempotent(services: Services, clock: FixedClock) -> None:
    from bot.content import DEFAULT_DIR

    now = datetime.fromtimestamp(clock(), UTC)
    for _ in range(2):
        assert await load_demo(services.db, DEFAULT_DIR / "demo", now=now) == 12
    async with services.db.session() as s:
        streets = set((await s.scalars(select(Team.street))).all())
        first = await s.scalar(select(func.min(Shift.starts_at)).where(Shift.code != "381204"))
        trying = await s.scalar(select(Shift).where(Shift.code == "381204"))
    assert streets == set(services.content.streets)
    assert first is not None and first > now
    # The try-it-now shift: started 10 minutes before the load, under the FAQ's example code.
    assert trying is not None and trying.starts_at == now.replace(second=0, microsecond=0) - timedelta(minutes=10)
    assert await _count(services, Shift) == 19


async def test_the_demos_try_now_shift_follows_each_load_and_keeps_what_it_served(
    services: Services, clock: FixedClock
) -> None:
    from bot.content import DEFAULT_DIR

    now = datetime.fromtimestamp(clock(), UTC)
    await load_demo(services.db, DEFAULT_DIR / "demo", now=now)
    later = now + timedelta(hours=5)
    await load_demo(services.db, DEFAULT_DIR / "demo", now=later)  # nobody came: the shift moves
    assert await _count(services, Shift) == 19
    async with services.db.session() as s:
        shift = await s.scalar(select(Shift).where(Shift.code == "381204"))
        assert shift is not None and shift.starts_at > now
        user_id = await ensure_user(s, "wechat", "o_demo_try", clock())
        s.add(CheckIn(shift_id=shift.id, user_id=user_id, checked_in_at=later, via="code", verified=False))
        served = shift.id
    await load_demo(services.db, DEFAULT_DIR / "demo", now=later + timedelta(days=1))
    async with services.db.session() as s:
        old = await s.get(Shift, served)
        new = await s.scalar(select(Shift).where(Shift.code == "381204"))
    assert old is not None and old.code != "381204" and old.starts_at < later + timedelta(minutes=1)
    assert new is not None and new.id != served and new.starts_at > later + timedelta(hours=23)


async def test_export_through_the_command_line(tmp_path: Path, clean_db: None) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGTUAN_")}
    env.update(PYTHONPATH=str(ROOT), LONGTUAN_DATABASE_URL=PG_URL)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "export", "hours", "--from", "2026-07-01", "--to", "2026-12-31",
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert out.decode("utf-8").startswith("姓名,证件号码,项目名称")
    assert "导出 0 条时长记录" in err.decode()
