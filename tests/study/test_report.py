"""The participation ratio on a known data set: per branch, street and district, confirmed and self apart."""

from __future__ import annotations

import argparse
import csv
import io

import pytest

from bot.commands.study import report_study
from bot.commands.study_report import lines
from bot.context import Services
from bot.db.study import episodes
from bot.db.study import report as figures
from tests.study.support import CURRENT, complete, member, seed


async def known_data(services: Services) -> None:
    """Rosters: BT01 4, BT02 2, BJ01 5. Bound: BT01 2, BJ01 6 (more than its roster).

    Episode 100: BT01 one confirmed + one self-reported; BJ01 three confirmed.
    Episode 99: BT01 one confirmed; BJ01 six confirmed.
    """
    await seed(services.db)
    bt = [await member(services.db, f"o-bt-{i}", "BT01") for i in range(2)]
    bj = [await member(services.db, f"o-bj-{i}", "BJ01") for i in range(6)]
    await complete(services.db, bt[0], CURRENT, confirmed=True)
    await complete(services.db, bt[1], CURRENT, confirmed=False)
    for uid in bj[:3]:
        await complete(services.db, uid, CURRENT, confirmed=True)
    await complete(services.db, bt[0], CURRENT - 1, confirmed=True)
    for uid in bj:
        await complete(services.db, uid, CURRENT - 1, confirmed=True)


async def test_the_ratio_per_branch_street_and_district(services: Services) -> None:
    await known_data(services)
    async with services.db.session() as s:
        ep = await episodes.by_number(s, CURRENT)
        assert ep is not None
        found = lines(await figures.branches(s), await figures.completions(s, [ep.id]), ep)
    table = {(r.level, r.code or r.street or r.district): (r.members, r.confirmed, r.self_reported) for r in found}
    assert table == {
        ("branch", "BJ01"): (6, 3, 0),  # six bound beat a roster of five
        ("branch", "BT01"): (4, 1, 1),
        ("branch", "BT02"): (2, 0, 0),
        ("street", "布吉"): (6, 3, 0),
        ("street", "坂田"): (6, 1, 1),
        ("district", "龙岗区"): (12, 4, 1),
    }
    ratio = {(r.level, r.code or r.street or r.district): round(r.ratio, 4) for r in found}
    assert ratio[("branch", "BT01")] == 0.5 and ratio[("street", "坂田")] == round(2 / 6, 4)
    assert ratio[("district", "龙岗区")] == round(5 / 12, 4)
    district = next(r for r in found if r.level == "district")
    assert round(district.confirmed_ratio, 4) == round(4 / 12, 4)


async def test_report_prints_the_episode_and_the_trend(services: Services, capsys: pytest.CaptureFixture[str]) -> None:
    await known_data(services)
    args = argparse.Namespace(episode=None, street=None, trend=8, csv=None)
    assert await report_study(services, args) == 0
    out = capsys.readouterr().out
    assert f"第{CURRENT}期" in out
    assert "= 龙岗区" in out and "41.7%" in out  # 5 of 12
    trend = out.split("最近几期趋势（全区）：")[1]
    assert "58.3%" in trend and f"第{CURRENT - 1}期" in trend  # 7 of 12 the week before
    args = argparse.Namespace(episode=CURRENT - 1, street="布吉街道", trend=8, csv=None)
    assert await report_study(services, args) == 0
    out = capsys.readouterr().out
    assert "· 布吉街道" in out and "100.0%" in out and "坂田" not in out


async def test_report_as_csv(services: Services, capsys: pytest.CaptureFixture[str]) -> None:
    await known_data(services)
    assert await report_study(services, argparse.Namespace(episode=None, street=None, trend=2, csv="-")) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 2 * (3 + 2 + 1)  # two episodes: three branches, two streets, the district
    district = {r["episode"]: r for r in rows if r["level"] == "district"}
    assert district[str(CURRENT)]["completed"] == "5" and district[str(CURRENT)]["ratio"] == "0.4167"
    assert district[str(CURRENT)]["confirmed"] == "4" and district[str(CURRENT)]["self_reported"] == "1"
    assert district[str(CURRENT - 1)]["ratio"] == "0.5833"
