"""``longtuan import internships FILE``: validation named by row and column, all or nothing,
idempotent on post_id, changed rows updated, .xlsx as well as .csv, a separate process."""

from __future__ import annotations

import asyncio
import csv
import os
import sys
from dataclasses import astuple, replace
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.context import Services
from bot.imports import ImportFailed
from bot.internships.importer import import_file
from bot.internships.records import COLUMNS, Post
from tests.conftest import PG_URL
from tests.internships.support import DEMO, ROOT, demo_posts


def write_csv(path: Path, posts: list[Post]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS)
        for p in posts:
            row = list(astuple(p))
            row[9] = "1" if p.hmt_round else "0"
            out.writerow(row)
    return path


async def _count(svc: Services) -> int:
    async with svc.db.session() as s:
        return int((await s.execute(text("SELECT count(*) FROM internship_posts"))).scalar_one())


async def test_the_demo_file_imports_and_again_changes_nothing(services: Services) -> None:
    first = await import_file(services, DEMO)
    assert first.rows == 194 and len(first.written.inserted) == 194
    async with services.db.session() as s:
        hmt = (await s.execute(text("SELECT count(*) FROM internship_posts WHERE hmt_round"))).scalar_one()
        stamp = (await s.execute(text("SELECT max(updated_at) FROM internship_posts"))).scalar_one()
    assert hmt == 68
    services.clock.advance(3600)  # type: ignore[attr-defined]
    again = await import_file(services, DEMO)
    assert again.written.inserted == [] and again.written.updated == []
    async with services.db.session() as s:
        assert (await s.execute(text("SELECT max(updated_at) FROM internship_posts"))).scalar_one() == stamp


async def test_a_changed_row_updates_its_post(services: Services, tmp_path: Path) -> None:
    posts = demo_posts(services.local_now().date())[:3]
    await import_file(services, write_csv(tmp_path / "a.csv", posts))
    changed = [posts[0], replace(posts[1], positions=9, title="美工实习生（新）"), posts[2]]
    done = await import_file(services, write_csv(tmp_path / "b.csv", changed))
    assert done.written.inserted == [] and len(done.written.updated) == 1 and done.notified == 0
    async with services.db.session() as s:
        row = (
            await s.execute(
                text("SELECT title, positions FROM internship_posts WHERE post_id = :p"), {"p": posts[1].post_id}
            )
        ).one()
        found = (
            await s.execute(text("SELECT count(*) FROM internship_posts WHERE search @@ CAST('''新''' AS tsquery)"))
        ).scalar_one()
    assert tuple(row) == ("美工实习生（新）", 9)
    assert found == 0  # a lone character is not indexed; the vector was rebuilt with the row


async def test_bad_rows_are_named_and_nothing_is_imported(services: Services, tmp_path: Path) -> None:
    lines = DEMO.read_text(encoding="utf-8").splitlines()
    bad = lines[:4]
    bad[2] = bad[2].replace(",龙城,", ",福田,", 1)
    bad[3] = bad[3].replace("2024-06-28", "2024-13-45").replace(",5,130元/天,", ",五,130元/天,")
    bad.append(lines[1])  # a post_id twice
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(bad) + "\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as failed:
        await import_file(services, path)
    message = str(failed.value)
    assert "第 3 行「street」列：「福田」不是龙岗区的街道" in message
    assert "第 4 行「positions」列" in message and "第 4 行「deadline」列：「2024-13-45」" in message
    assert "第 5 行「post_id」列：ZC2024-001 与第 2 行重复" in message
    assert await _count(services) == 0


async def test_a_missing_column_is_named(services: Services, tmp_path: Path) -> None:
    path = tmp_path / "cols.csv"
    path.write_text("post_id,title\nZC-1,设计\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match="第 1 行「company」列：缺少这一列"):
        await import_file(services, path)


async def test_an_xlsx_workbook_imports_the_same(services: Services, tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    with DEMO.open(encoding="utf-8", newline="") as fh:
        for i, row in enumerate(csv.reader(fh)):
            # Excel keeps numbers and dates as such: the reader must take them back as text.
            sheet.append([int(c) if i and c.isdigit() else c for c in row])
    path = tmp_path / "posts.xlsx"
    book.save(path)
    done = await import_file(services, path)
    assert done.rows == 194 and len(done.written.inserted) == 194
    again = await import_file(services, DEMO)  # the CSV of the same posts changes nothing
    assert again.written.updated == [] and again.written.inserted == []


async def test_the_command_line_imports_in_its_own_process(services: Services, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGTUAN_")}
    env.update(PYTHONPATH=str(ROOT), LONGTUAN_DATABASE_URL=PG_URL)

    async def run(*args: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "import", "internships", *args, cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        return proc.returncode or 0, out.decode(), err.decode()

    code, out, err = await run(str(DEMO))
    assert code == 0, err
    assert "共 194 行，新增 194，更新 0，未变 0" in out
    assert await _count(services) == 194  # written by another process, read here at once
    code, out, _ = await run(str(DEMO))
    assert code == 0 and "新增 0，更新 0，未变 194" in out
    (tmp_path / "bad.csv").write_text("post_id\n", encoding="utf-8")
    code, _, err = await run(str(tmp_path / "bad.csv"))
    assert code == 1 and "缺少这一列" in err


async def test_applications_export_for_the_employers(services: Services, tmp_path: Path) -> None:
    import argparse

    from bot.commands.internships import _export
    from bot.db.internships import people
    from bot.db.internships.people import Profile
    from bot.db.users import ensure_user

    today = services.local_now().date()
    await import_file(services, write_csv(tmp_path / "posts.csv", demo_posts(today)))
    async with services.db.session() as s:
        post = (await s.execute(text("SELECT id FROM internship_posts WHERE post_id = 'ZC2024-003'"))).scalar_one()
        user = await ensure_user(s, "wechat", "o-export", services.now())
        profile = Profile("陈晨", "13600136000", "深圳大学", "金融学", 2027)
        assert await people.apply(s, user, post, profile, today, services.now()) == "applied"
    out = tmp_path / "applications.csv"
    assert await _export(services, argparse.Namespace(out=str(out))) == 0
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("post_id,title,company,contact_email,name,mobile")
    assert lines[1].startswith(
        "ZC2024-003,大堂经理助理（见习）,深圳乐辰村镇银行股份有限公司,intern.lechen@example.com,陈晨,13600136000"
    )
    assert lines[1].endswith(",submitted,2026-12-01 10:00") and len(lines) == 2


async def test_the_demo_loader_is_idempotent_and_never_stale(services: Services) -> None:
    from datetime import date

    from bot.internships.demo import load_internships

    folder = DEMO.parent
    assert await load_internships(services.db, folder) == 194
    async with services.db.session() as s:
        first = (
            await s.execute(text("SELECT min(deadline), max(updated_at), max(deadline) FROM internship_posts"))
        ).one()
    assert await load_internships(services.db, folder) == 194
    async with services.db.session() as s:
        again = (
            await s.execute(
                text("SELECT count(*), min(deadline), max(updated_at), max(deadline) FROM internship_posts")
            )
        ).one()
        winter = (
            await s.execute(
                text("SELECT DISTINCT extract(month FROM start_date) FROM internship_posts WHERE season = '寒假'")
            )
        ).scalars()
        assert set(winter) <= {1, 2, 3, 12}  # a 寒假 post still starts in winter
    assert again[0] == 194 and tuple(again[1:]) == tuple(first)  # the second run changed nothing
    # Every post open, whatever today is: deadlines from a week ahead to a year and a week ahead.
    assert (first[0] - date.today()).days >= 7 and (first[2] - date.today()).days <= 366 + 7
