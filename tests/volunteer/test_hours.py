"""「我的时长」, 「礼遇」 and registration; the ledger refuses changes and totals follow its entries."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from bot.db.users import ensure_user
from bot.db.volunteer import ledger
from bot.db.volunteer.tables import CheckIn, LedgerEntry, Volunteer
from handlers.volunteer import stars
from tests.conftest import GatewayFactory
from tests.harness import count_batched_statements
from tests.volunteer.conftest import Site

USER = "o_volunteer_hours_0001"


async def _serve(site: Site, user: str, hours: float, *, days_ago: int, shift: int) -> int:
    """A finished service written as a check-out would (a check-in and its service entry)."""
    at = datetime.fromtimestamp(site.clock(), UTC) - timedelta(days=days_ago)
    async with site.gw.db.session() as s:
        user_id = await ensure_user(s, "wechat", user, site.clock())
        row = CheckIn(
            shift_id=shift,
            user_id=user_id,
            checked_in_at=at,
            checked_out_at=at + timedelta(hours=hours),
            via="code",
            verified=False,
            walk_in=True,
        )
        s.add(row)
        await s.flush()
        s.add(
            LedgerEntry(
                user_id=user_id,
                kind="service",
                hours=Decimal(str(hours)),
                checkin_id=row.id,
                project_id=site.data.project,
                served_on=at.date(),
                started_at=at,
                ended_at=at + timedelta(hours=hours),
                created_at=at,
            )
        )
        return user_id


async def test_my_hours_without_any_service(site: Site) -> None:
    await site.gw.dialog(USER, [("我的时长", "volunteer.hours_none", {"first": "100", "first_name": "一星志愿者"})])


async def test_my_hours_totals_level_and_recent(site: Site) -> None:
    gw = site.gw
    user_id = await _serve(site, USER, 98, days_ago=400, shift=site.data.ended_shift)  # last year
    await _serve(site, USER, 3.5, days_ago=1, shift=site.data.now_shift)
    answer = await gw.say(USER, "我的时长")
    assert answer.text.startswith("你的志愿时长⏱\n累计：101.5 小时（2 次服务）\n今年：3.5 小时\n星级：一星志愿者\n")
    assert gw.expected("volunteer.progress_next", left="198.5", name="二星志愿者") in answer.text
    assert "今年：3.5 小时" in answer.text and "星级：一星志愿者" in answer.text
    assert "11月30日（周一） 坂田社区环境清洁 3.5 小时" in answer.text
    async with gw.db.session() as s:
        assert await ledger.total_hours(s, user_id) == Decimal("101.5")


async def test_perks_by_level_and_the_next_one(site: Site) -> None:
    gw = site.gw
    below = await gw.say(USER, "礼遇")
    assert below.text.startswith(
        "你累计 0 小时，再服务 100 小时就是一星志愿者，可以享受：\n· 龙岗图书馆：借书册数上限加倍"
    )
    await _serve(site, USER, 320, days_ago=3, shift=site.data.ended_shift)
    answer = await gw.say(USER, "礼遇")
    assert answer.text.startswith("你现在是二星志愿者，可享受的礼遇🎁\n· 坂田全民健身中心：游泳馆每月2次免费入场")
    assert "· 布吉万象影城：周一至周四观影8折" in answer.text  # one star's perks stay theirs
    assert "升到三星志愿者还能享受：\n· 大运中心体育场馆：羽毛球场地每月1次免费预约" in answer.text


async def test_the_ledger_is_append_only_and_corrections_add_up(site: Site) -> None:
    gw = site.gw
    user_id = await _serve(site, USER, 3, days_ago=2, shift=site.data.ended_shift)
    for stmt in (update(LedgerEntry).values(hours=Decimal(30)), delete(LedgerEntry)):
        with pytest.raises(DBAPIError, match="append-only"):
            async with gw.db.session() as s:
                await s.execute(stmt)
    async with gw.db.session() as s:
        entry = await s.scalar(select(LedgerEntry.id))
        await ledger.correct(
            s,
            user_id,
            Decimal("-1"),
            reason="签退时间登记有误",
            author="坂田团工委 李老师",
            now=datetime.fromtimestamp(site.clock(), UTC),
            served_on=date(2026, 12, 1),
            corrects_id=entry,
        )
    async with gw.db.session() as s:
        assert await ledger.total_hours(s, user_id) == Decimal(2)
        rows = await ledger.entries(s, user_id)
    assert [(r.kind, r.hours, r.author) for r in rows] == [
        ("service", Decimal("3.00"), ""),
        ("correction", Decimal("-1.00"), "坂田团工委 李老师"),
    ]
    assert "时长调整 -1 小时" in (await gw.say(USER, "我的时长")).text
    # A correction without reason or author is refused by the database itself.
    with pytest.raises(DBAPIError, match="ck_vl_shape"):
        async with gw.db.session() as s:
            await s.execute(
                text(
                    "INSERT INTO volunteer_ledger (user_id, kind, hours, served_on, reason, author, created_at)"
                    " VALUES (:u, 'correction', 1, '2026-12-01', '', '', now())"
                ),
                {"u": user_id},
            )


async def test_registration_seals_the_full_number_and_shows_it_masked(site: Site) -> None:
    gw = site.gw
    await gw.dialog(
        USER,
        [
            ("志愿者登记", "volunteer.ask_name"),
            ("李", "volunteer.bad_name"),
            ("李小龙", "volunteer.ask_id", {"name": "李小龙"}),
            ("11010519491231002Y", "volunteer.bad_id"),
            ("11010519491231002x", "volunteer.registered", {"name": "李小龙", "masked": "110***********002X"}),
        ],
    )
    async with gw.db.session() as s:
        [row] = (await s.scalars(select(Volunteer))).all()
    # Sealed at rest: the table holds neither the number nor its digits in order; the key opens it.
    assert (row.name, row.id_masked) == ("李小龙", "110***********002X")
    assert "0105194912" not in row.id_sealed and gw.services.sealer.open(row.id_sealed) == "11010519491231002X"
    await gw.dialog(USER, [("志愿者登记", "volunteer.ask_name"), ("取消", "system.cancelled")])


def test_star_thresholds_are_the_content_defaults() -> None:
    cat = stars.load()
    assert [(lv.stars, int(lv.hours)) for lv in cat.levels] == [(1, 100), (2, 300), (3, 600), (4, 1000), (5, 1500)]
    assert cat.level_of(Decimal("99.5")) is None
    level = cat.level_of(Decimal(100))
    assert level is not None and level.stars == 1
    top = cat.level_of(Decimal(5000))
    assert top is not None and top.stars == 5 and cat.next_after(top) is None
    assert all(p.provider and p.where for p in cat.perks)


async def test_my_hours_with_the_database_down_is_busy(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(database_url="postgresql+asyncpg://postgres@127.0.0.1:9/nowhere")
    await gw.dialog(USER, [("我的时长", "system.busy"), ("签到 381204", "system.busy")])


async def test_a_question_inside_the_registration_is_answered_and_the_form_waits(site: Site) -> None:
    """「我的时长」 while the name is asked was kept as the name: it is answered, the form says it
    still waits, and the name typed next goes on where it was."""
    gw = site.gw
    paused = gw.expected("system.flow_paused", flow=gw.expected("flows.volunteer_register"))
    await gw.dialog(USER, [("志愿者登记", "volunteer.ask_name")])
    for said in ("我的时长", "志愿时长怎么算"):
        answer = await gw.say(USER, said)
        assert answer.text.endswith(paused), f"{said}: {answer.text}"
    await gw.dialog(USER, [("李小龙", "volunteer.ask_id", {"name": "李小龙"})])
    for said in ("礼遇", "最近心情不好"):  # a command word; words with no digit are no try at a number
        answer = await gw.say(USER, said)
        assert answer.text.endswith(paused) and gw.expected("volunteer.bad_id") not in answer.text, answer.text
    await gw.dialog(USER, [("1101051949", "volunteer.bad_id")])
    await gw.dialog(
        USER, [("11010519491231002x", "volunteer.registered", {"name": "李小龙", "masked": "110***********002X"})]
    )


async def test_people_asking_at_once_share_one_statement_and_each_get_their_own(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """「我的时长」 of many people in the same moment: one read for up to 32 of them (bot.db.batch),
    each answer the same as their entries say; someone unknown or with nothing served gets zeros."""
    gw = site.gw
    served = {f"o_hours_batch_{i:02d}": [float(i % 5 + 1), 0.5 * i] for i in range(1, 37)}
    for user, hours in served.items():
        for n, h in enumerate(hours):
            shift = (site.data.ended_shift, site.data.now_shift)[n]
            await _serve(site, user, h, days_ago=1 + n * 400, shift=shift)  # one this year, one before
    statements = count_batched_statements(monkeypatch, gw.db, 4)
    year = date(2026, 1, 1)
    asked = [*served, "o_hours_batch_nobody", "o_hours_batch_01"]  # someone twice
    got = await asyncio.gather(*(ledger.summary(gw.db, "wechat", u, year) for u in asked))
    assert statements == [32, 8], "37 distinct people: a statement of 32 and one of 8 (5 filled)"
    for user, mine in zip(asked, got, strict=True):
        hours = served.get(user, [])
        assert mine.total == sum(Decimal(str(h)) for h in hours), user
        assert mine.this_year == (Decimal(str(hours[0])) if hours else 0), user
        assert mine.services == len(hours) and len(mine.recent) == len(hours), user
        assert [line.hours for line in mine.recent] == [Decimal(str(h)) for h in hours], "newest first"
    assert got[-1] == got[0]
    # One asking alone is one statement of one.
    statements.clear()
    alone = await ledger.summary(gw.db, "wechat", "o_hours_batch_03", year, recent=1)
    assert statements == [1] and len(alone.recent) == 1 and alone.total == Decimal("5.5")


async def test_a_volunteer_card_or_certificate_is_answered_truthfully(site: Site) -> None:
    """No card or stamped certificate is issued here: the answer says so and where the record is."""
    for said in ("志愿者证怎么办", "怎么开志愿时长证明"):
        answer = await site.gw.say(USER, said)
        assert answer.text.startswith("这里不发实体的志愿者证，也开不了盖章的证明。"), answer.text
        assert "「我的时长」" in answer.text and "「人工」" in answer.text


async def test_my_hours_while_checked_in_says_the_hours_come_at_check_out(site: Site) -> None:
    """Asked on the shift, 「我的时长」 does not say "no record" as if nothing happened: it names the
    service under way, first time or not."""
    gw = site.gw
    other = "o_volunteer_hours_0002"
    await _serve(site, other, 2, days_ago=3, shift=site.data.ended_shift)
    await gw.say(other, "签到 381204")
    serving = await gw.say(other, "我的时长")
    under_way = "你的志愿时长⏱\n正在服务：「坂田社区环境清洁」，签退后记入。\n累计：2 小时"
    assert serving.text.startswith(under_way), serving.text
    await gw.say(USER, "签到 381204")
    first = await gw.say(USER, "我的时长")
    assert first.text == gw.expected(
        "volunteer.hours_first_serving", title="坂田社区环境清洁", first="100", first_name="一星志愿者"
    )
    site.clock.advance(4 * 3600)
    assert (await gw.say(USER, "签退")).text.startswith("签退成功👋")
    after = await gw.say(USER, "我的时长")
    assert after.text.startswith("你的志愿时长⏱\n累计：3 小时（1 次服务）"), after.text  # nothing under way now
