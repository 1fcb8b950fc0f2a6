"""Cadres' imports: the organisation, episodes, and the official completion list (CSV and .xlsx)."""

from __future__ import annotations

import argparse
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from bot.commands.study import import_branches, import_completions, import_episodes
from bot.context import Services
from bot.db.study import completions, episodes, members
from bot.db.study.tables import StudyBranch, StudyCompletion, StudyEpisode, StudyOrg
from tests.study.support import OPENS, member, seed

BRANCHES_CSV = """区,街道,团工委,支部码,支部名称,团员数
龙岗区,坂田街道,共青团坂田街道工作委员会,BT01,坂田街道第一团支部,30
龙岗区,坂田,共青团坂田街道工作委员会,bt02,坂田街道第二团支部,25
龙岗区,布吉,共青团布吉街道工作委员会,BJ01,布吉街道第一团支部,40
"""


def write(tmp: Path, name: str, text: str) -> str:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return str(path)


async def branch_table(svc: Services) -> list[tuple[str, str, int, str]]:
    async with svc.db.session() as s:
        rows = await s.execute(
            select(StudyBranch.code, StudyBranch.name, StudyBranch.members, StudyOrg.street)
            .join(StudyOrg, StudyOrg.id == StudyBranch.org_id)
            .order_by(StudyBranch.code)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_branches_import_and_the_same_file_again_changes_nothing(
    services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(file=write(tmp_path, "org.csv", BRANCHES_CSV))
    assert await import_branches(services, args) == 0
    assert "2 个街道的 3 个支部：新增 3，更新 0，未变 0" in capsys.readouterr().out
    first = await branch_table(services)
    assert first == [
        ("BJ01", "布吉街道第一团支部", 40, "布吉"),
        ("BT01", "坂田街道第一团支部", 30, "坂田"),
        ("BT02", "坂田街道第二团支部", 25, "坂田"),
    ]
    assert await import_branches(services, args) == 0
    assert "新增 0，更新 0，未变 3" in capsys.readouterr().out
    assert await branch_table(services) == first
    changed = argparse.Namespace(file=write(tmp_path, "org2.csv", BRANCHES_CSV.replace(",40", ",42")))
    assert await import_branches(services, changed) == 0
    assert "新增 0，更新 1，未变 2" in capsys.readouterr().out


async def test_a_bad_branch_file_names_each_error_and_imports_nothing(
    services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = BRANCHES_CSV + "龙岗区,布吉,共青团布吉街道工作委员会,BJ01,重复的支部,3\n龙岗区,,x,BJ09,无街道,三十\n"
    assert await import_branches(services, argparse.Namespace(file=write(tmp_path, "bad.csv", bad))) == 1
    err = capsys.readouterr().err
    assert "第 5 行「支部码」列：「BJ01」和第 4 行重复" in err
    assert "第 6 行「街道」列：不能为空" in err and "第 6 行「团员数」列：「三十」不是人数" in err
    assert await branch_table(services) == []


async def test_episodes_import(services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "期数,标题,链接,开始时间,截止时间\n101,新一期,https://example.org/101,2026-12-07 10:00,\n"
    args = argparse.Namespace(file=write(tmp_path, "eps.csv", text))
    assert await import_episodes(services, args) == 0
    assert await import_episodes(services, args) == 0
    async with services.db.session() as s:
        ep = (await s.execute(select(StudyEpisode))).scalar_one()
    local = ep.closes_at.astimezone(services.tz)
    assert (ep.number, local.weekday(), local.hour) == (101, 6, 22)  # closes the Sunday 22:00 after
    assert "1 期：新增 1" in capsys.readouterr().out


OFFICIAL_CSV = """姓名,团支部,手机号,学习时间
张三,坂田街道第一团支部,138-0000-0001,2026-12-01 20:01
王五,BJ01,,2026-12-02 09:00
李四,坂田街道第一团支部,,2026-12-02 10:00
赵六,坂田街道第一团支部,,2026-12-02 11:00
钱七,不存在的支部,,2026-12-02 12:00
张三,坂田街道第一团支部,13800000001,2026-12-01 20:01
"""


async def members_for_the_list(services: Services) -> dict[str, int]:
    await seed(services.db)
    ids = {
        "张三": await member(services.db, "o-zhang", "BT01", "张三", "13800000001"),
        "李四a": await member(services.db, "o-li-1", "BT01", "李四"),
        "李四b": await member(services.db, "o-li-2", "BT01", "李四"),
        "王五": await member(services.db, "o-wang", "BJ01", "王五"),
    }
    async with services.db.session() as s:
        ep = await episodes.by_number(s, 100)
        assert ep is not None
        branch = await s.execute(select(StudyBranch.id).where(StudyBranch.code == "BJ01"))
        await completions.self_report(s, ep.id, ids["王五"], branch.scalar_one(), OPENS)
    return ids


async def completion_rows(services: Services) -> list[tuple[int, bool, bool, str]]:
    async with services.db.session() as s:
        rows = await s.execute(
            select(
                StudyCompletion.user_id,
                StudyCompletion.self_reported_at.is_not(None),
                StudyCompletion.confirmed_at.is_not(None),
                StudyCompletion.official_time,
            ).order_by(StudyCompletion.user_id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
async def test_the_official_list_is_matched_and_reimporting_changes_nothing(
    services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    ids = await members_for_the_list(services)
    path = tmp_path / f"official.{suffix}"
    if suffix == "csv":
        path.write_text(OFFICIAL_CSV, encoding="utf-8-sig")  # as Excel saves "CSV UTF-8"
    else:
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        for line in OFFICIAL_CSV.strip().splitlines():
            cells: list[object] = list(line.split(","))
            if cells[2] == "13800000001":
                cells[2] = 13800000001.0  # Excel keeps a mobile as a number
            sheet.append(cells)
        book.save(path)
    args = argparse.Namespace(file=str(path), episode=100)
    assert await import_completions(services, args) == 0
    out = capsys.readouterr().out
    assert "第100期官方名单：6 行，对上 2 人" in out
    assert "新增确认 1，自报转为确认 1，之前已确认 0" in out
    assert "对不上任何已绑定团员的 2 行" in out and "第 5 行：赵六" in out and "第 6 行：钱七" in out
    assert "对上多人、没有记录的 1 行" in out and "第 4 行：李四" in out and "2 人同名" in out
    stored = await completion_rows(services)
    assert stored == [
        (ids["张三"], False, True, "2026-12-01 20:01"),
        (ids["王五"], True, True, "2026-12-02 09:00"),
    ]
    assert await import_completions(services, args) == 0
    assert "新增确认 0，自报转为确认 0，之前已确认 2" in capsys.readouterr().out
    assert await completion_rows(services) == stored


async def test_a_list_for_an_unknown_episode_or_without_names_is_refused(
    services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await members_for_the_list(services)
    good = write(tmp_path, "ok.csv", OFFICIAL_CSV)
    assert await import_completions(services, argparse.Namespace(file=good, episode=7)) == 1
    assert "没有第 7 期" in capsys.readouterr().err
    bad = write(tmp_path, "bad.csv", "学习时间,备注\n2026-12-01,x\n")
    assert await import_completions(services, argparse.Namespace(file=bad, episode=100)) == 1
    assert "第 1 行「姓名」列：缺少这一列" in capsys.readouterr().err
    assert [r for r in await completion_rows(services) if r[2]] == []


async def test_a_member_id_finds_a_member_whose_name_differs(
    services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed(services.db)
    uid = await member(services.db, "o-no", "BT01", "张小三")
    async with services.db.session() as s:
        await members.set_identity(s, uid, "张小三", member_no="4403071234")
    text = "姓名,团员编号,学习时间\n张三,4403071234,2026-12-01 08:00\n"
    args = argparse.Namespace(file=write(tmp_path, "ids.csv", text), episode=100)
    assert await import_completions(services, args) == 0
    assert "对上 1 人" in capsys.readouterr().out
    assert [r[0] for r in await completion_rows(services)] == [uid]
