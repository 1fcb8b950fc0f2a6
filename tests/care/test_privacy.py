"""Honest texts: the privacy answer names every table that holds personal data, with its columns as
they really are, and the keeping times as configured; no placeholder links; figures are dated."""

from __future__ import annotations

import argparse
import re

import pytest
from sqlalchemy import func, select, text

from bot.content import load_content
from bot.db.care_tables import CareThread, CareUnanswered
from bot.db.models import User
from handlers.care.config import care_content
from tests.conftest import GatewayFactory
from tests.harness import Gateway


async def _schema(gateway: Gateway) -> tuple[dict[str, set[str]], set[str]]:
    """Columns of every table, and the tables that point at a person (users.id, an openid, a hash)."""
    async with gateway.db.session() as s:
        rows = (
            await s.execute(
                text("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'")
            )
        ).all()
        refs = (
            (
                await s.execute(
                    text(
                        "SELECT DISTINCT tc.table_name FROM information_schema.table_constraints tc "
                        "JOIN information_schema.constraint_column_usage cu ON cu.constraint_name = tc.constraint_name "
                        "WHERE tc.constraint_type = 'FOREIGN KEY' AND cu.table_name IN ('users', 'care_threads')"
                    )
                )
            )
            .scalars()
            .all()
        )
    columns: dict[str, set[str]] = {}
    for table, column in rows:
        columns.setdefault(table, set()).add(column)
    personal = set(refs) | {t for t, cs in columns.items() if cs & {"external_id", "openid", "user_hash"}}
    return columns, personal - {"alembic_version"}


async def test_the_privacy_answer_names_every_table_and_column_that_is_stored(gateway: Gateway) -> None:
    care = care_content(gateway.services.content)
    columns, personal = await _schema(gateway)
    named = {p.table for p in care.privacy}
    assert personal <= named, f"tables with personal data the privacy answer does not mention: {personal - named}"
    privacy = gateway.expected("care.privacy", unanswered_days=90, inbox_days=180, session_days=7)
    for table in care.privacy:
        assert table.table in columns, f"the privacy answer names a table that does not exist: {table.table}"
        assert set(table.columns) == columns[table.table] - {"id"}, table.table
        assert table.says and table.says in privacy, table.table


async def test_the_privacy_answer_tells_the_configured_keeping_times(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(unanswered_days=30, inbox_days=60, session_ttl=3 * 86400)
    answer = await gateway.say("o-privacy-1", "你们会收集我的个人信息吗")
    assert answer.text == gateway.expected("care.privacy", unanswered_days=30, inbox_days=60, session_days=3)
    assert "30天" in answer.text and "60天" in answer.text and "3天" in answer.text
    assert (await gateway.say("o-privacy-1", "我的隐私安全吗")).text == answer.text


def test_no_placeholder_links_and_dated_figures() -> None:
    content = load_content()
    everything = [*content.texts.values(), *(e.answer for e in content.faq), repr(content.menu)]
    assert not any("example." in t for t in everything), "a placeholder link is shown to users"
    # The seed's figures are from the first half of 2024: wherever one is quoted, its date is too.
    figures = re.compile(r"23587|317733|787051|194个|68个|1200余|26万|80%|543个|33个青年之家|104个|223家|302项|33场")
    for t in everything:
        for paragraph in t.split("\n"):
            if figures.search(paragraph):
                assert "2024年" in paragraph, paragraph


async def test_a_person_who_asks_is_forgotten(gateway: Gateway, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.commands.care import privacy_forget

    await gateway.say("o-privacy-2", "团费怎么交")
    await gateway.say("o-privacy-2", "人工：请删除我的数据")
    await gateway.say("o-privacy-3", "团费怎么交")
    await gateway.flush_users()
    args = argparse.Namespace(channel="wechat", external_id="o-privacy-2")
    assert await privacy_forget(gateway.services, args) == 0
    assert "未答问题1条" in capsys.readouterr().out
    async with gateway.db.session() as s:
        users = (await s.execute(select(User.external_id))).scalars().all()
        threads = (await s.execute(select(func.count()).select_from(CareThread))).scalar_one()
        questions = (await s.execute(select(func.count()).select_from(CareUnanswered))).scalar_one()
    assert users == ["o-privacy-3"] and threads == 0 and questions == 1
