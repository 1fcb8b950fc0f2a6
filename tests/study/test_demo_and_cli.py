"""The demo shows a real picture (11 streets, 8 episodes, a ratio near 80%), and the CLI wires it all up."""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import main
from bot.commands.study import branch_qr
from bot.commands.study_report import lines
from bot.content import DEFAULT_DIR
from bot.context import Services
from bot.db.study import episodes
from bot.db.study import report as figures
from bot.db.study.demo import load_study
from bot.db.study.tables import StudyCompletion, StudyEpisode, StudyMembership, StudyOrg
from tests.conftest import PG_URL
from tests.fakes.wechat_api import FakeWeChatAPI
from tests.study.support import seed


async def counts(svc: Services) -> tuple[int, ...]:
    async with svc.db.session() as s:
        return tuple(
            [
                (await s.execute(select(func.count()).select_from(table))).scalar_one()
                for table in (StudyOrg, StudyEpisode, StudyMembership, StudyCompletion)
            ]
        )


async def test_the_demo_is_idempotent_and_near_eighty_percent(services: Services) -> None:
    bound = await load_study(services.db, DEFAULT_DIR / "demo")
    first = await counts(services)
    assert await load_study(services.db, DEFAULT_DIR / "demo") == bound
    assert await counts(services) == first
    streets, eps, members, _ = first
    assert (streets, eps, members) == (11, 8, bound) and bound > 300
    now = datetime.now(services.tz)  # the demo is dated from the real now, not the fixture's clock
    async with services.db.session() as s:
        recent = await episodes.recent(s, now, 8)
        branches = await figures.branches(s)
        done = await figures.completions(s, [e.id for e in recent])
    # Between Sunday 22:00 and Monday 10:00 no episode is open: all eight have closed.
    closed = [ep for ep in recent if not ep.is_open(now)]
    assert len(recent) == 8 and len(closed) >= 7
    for ep in closed:
        district = next(r for r in lines(branches, done, ep) if r.level == "district")
        assert 0.72 <= district.ratio <= 0.88, (ep.number, district.ratio)
        assert district.confirmed > district.self_reported


async def longtuan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``longtuan ARGS`` through the real argument parser, in a thread (each command runs its own loop)."""
    code = 0
    try:
        await asyncio.to_thread(main, list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def test_the_cadre_commands_from_the_shell(
    services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LONGTUAN_DATABASE_URL", PG_URL)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "org.csv").write_text(
        "街道,支部码,支部名称,团员数\n坂田,BT01,坂田街道第一团支部,10\n布吉,BJ01,布吉街道第一团支部,8\n",
        encoding="utf-8",
    )
    code, out, err = await longtuan(capsys, "import", "branches", "org.csv")
    assert code == 0, err
    assert "2 个街道的 2 个支部：新增 2" in out
    real = datetime.now(services.tz)  # the command runs on the real clock
    opens, closes = ((real + timedelta(hours=h)).strftime("%Y-%m-%d %H:%M") for h in (-1, 48))
    code, out, err = await longtuan(
        capsys, "study", "episode", "add", "--number", "7", "--title", "测试一期", "--link", "https://example.org/7",
        "--opens", opens, "--closes", closes,
    )  # fmt: skip
    assert code == 0 and "第7期已添加" in out, err
    code, out, err = await longtuan(capsys, "study", "remind", "--plan", "thursday")
    assert code == 0, err
    assert "规则 thursday（pending" in out and "这次要发" in out
    code, out, err = await longtuan(capsys, "report", "study", "--csv")
    assert code == 0, err
    assert out.splitlines()[0].startswith("episode,level,district,street,branch_code")


async def test_branch_qr_codes_come_from_wechat_with_the_branch_scene(
    services: Services, fake_wechat: FakeWeChatAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed(services.db)
    assert await branch_qr(services, argparse.Namespace(codes=["bt02", "BJ01"])) == 0
    assert fake_wechat.qr_scenes == ["branch-BT02", "branch-BJ01"]  # in the organisation's order
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("BJ01\t布吉街道第一团支部\thttps://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=gQ")
    assert await branch_qr(services, argparse.Namespace(codes=["ZZ01"])) == 1
    assert "没有这些支部码的支部：ZZ01" in capsys.readouterr().err
