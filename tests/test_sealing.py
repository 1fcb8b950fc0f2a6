"""ID numbers sealed at rest: the sealer, its keys, the embedded key file, the migration that seals
numbers kept in the clear, key rotation, and what each entry point does without a key."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import cli
from bot.app import create_app
from bot.commands.keys import rotate
from bot.commands.volunteer import export_hours
from bot.context import Services
from bot.db.migrate import upgrade
from bot.db.users import ensure_user
from bot.db.volunteer import profiles
from bot.db.volunteer.tables import Volunteer
from bot.errors import ConfigError
from bot.sealing import KEY_FILE, MISSING, Sealer, SealError, embedded_key, new_key, parse_keys, sealer_for
from tests.conftest import DATA_KEY, PG_URL, FixedClock, make_settings

NUMBER = "11010519491231002X"


def test_a_sealed_number_opens_with_its_key_only() -> None:
    sealer = Sealer([DATA_KEY])
    one, two = sealer.seal(NUMBER), sealer.seal(NUMBER)
    assert one != two, "a random IV: equal numbers do not look equal at rest"
    assert NUMBER not in one and "0105194912" not in one
    assert sealer.open(one) == sealer.open(two) == NUMBER
    with pytest.raises(SealError):
        Sealer([new_key()]).open(one)
    with pytest.raises(SealError):
        sealer.open(one[:-4] + "AAAA")  # damaged


def test_rotation_keys_open_old_values_and_seal_with_the_first() -> None:
    old, new = DATA_KEY, new_key()
    before = Sealer([old]).seal(NUMBER)
    both = Sealer([new, old])
    assert both.open(before) == NUMBER and not both.current(before)
    after = both.reseal(before)
    assert both.current(after) and Sealer([new]).open(after) == NUMBER
    with pytest.raises(SealError):
        Sealer([old]).open(after)


def test_keys_are_checked_and_a_missing_one_is_named() -> None:
    assert parse_keys(f" {DATA_KEY} , {DATA_KEY}") == [DATA_KEY, DATA_KEY]
    for bad, message in (("", "at least one"), ("short", "key 1 is not"), (f"{DATA_KEY},x", "key 2 is not")):
        with pytest.raises(ValueError, match=message):
            parse_keys(bad)
    with pytest.raises(ConfigError, match="LONGTUAN_DATA_KEY is not set"):
        sealer_for(None)


def test_the_embedded_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    key = embedded_key(tmp_path / "data")
    path = tmp_path / "data" / KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert embedded_key(tmp_path / "data") == key and parse_keys(key) == [key]
    assert [p.name for p in path.parent.iterdir()] == [KEY_FILE], "no temporary file is left behind"


def test_the_web_app_refuses_to_start_without_a_key(redis_prefix: str) -> None:
    settings = make_settings(redis_prefix, "http://127.0.0.1:9", data_key=None)
    with pytest.raises(ConfigError) as caught:
        create_app(settings)
    assert str(caught.value) == MISSING


@pytest.fixture
def root_logging() -> Iterator[None]:
    """The command line sets up logging for its process: put the test run's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_serve_chat_and_a_full_id_export_say_what_to_set_without_a_key(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    clean_db: None,
    root_logging: None,
) -> None:
    """The command line in this process (what a shell runs, without the start-up of a new one)."""
    for name in [k for k in os.environ if k.startswith("LONGTUAN_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("LONGTUAN_DATABASE_URL", PG_URL)
    monkeypatch.chdir(tmp_path)  # no .env of the project's
    hours = ["export", "hours", "--from", "2026-07-01", "--to", "2026-12-31"]
    for argv in (["serve", "--port", "0"], ["chat", "--say", "帮助"], [*hours, "--full-id"]):
        with pytest.raises(SystemExit) as stopped:
            cli.main(argv)
        assert stopped.value.code == 2 and capsys.readouterr().err.strip() == f"longtuan: {MISSING}", argv
    cli.main(hours)  # masked numbers need no key
    said = capsys.readouterr()
    assert said.out.startswith("姓名,证件号码") and "导出 0 条时长记录" in said.err
    cli.main(["keys", "new"])
    key = capsys.readouterr().out.strip()
    assert parse_keys(key) == [key]


async def _register(services: Services, openid: str, number: str, now: float) -> int:
    async with services.db.session() as s:
        user_id = await ensure_user(s, "wechat", openid, now)
        await profiles.save(s, services.sealer, user_id, "王小明", number, now)
    return user_id


async def _sealed(s: AsyncSession) -> dict[int, str]:
    return {user: value for user, value in (await s.execute(select(Volunteer.user_id, Volunteer.id_sealed))).all()}


async def test_rotate_reseals_with_the_first_key_and_then_changes_nothing(
    services: Services, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(3):
        await _register(services, f"o_rotate_{i}", NUMBER, clock())
    async with services.db.session() as s:
        before = await _sealed(s)
    new = new_key()
    services._sealer = Sealer([new, DATA_KEY])  # LONGTUAN_DATA_KEY=NEW,OLD
    assert await rotate(services, argparse.Namespace()) == 0
    assert "重新加密 3 人的身份证号，0 人" in capsys.readouterr().out
    async with services.db.session() as s:
        after = await _sealed(s)
    assert after.keys() == before.keys() and not set(after.values()) & set(before.values())
    assert {Sealer([new]).open(v) for v in after.values()} == {NUMBER}
    assert await rotate(services, argparse.Namespace()) == 0  # again: nothing to do
    assert "重新加密 0 人的身份证号，3 人的本来就是第一个密钥加密的" in capsys.readouterr().out
    async with services.db.session() as s:
        again = await _sealed(s)
    assert again == after
    services._sealer = Sealer([new_key()])  # a key that opens none of them: counted, nothing changed
    assert await rotate(services, argparse.Namespace()) == 1
    assert "有 3 人的身份证号哪个密钥都解不开" in capsys.readouterr().err


async def test_a_full_id_export_with_the_wrong_key_stops_and_leaves_no_half_file(
    services: Services, clock: FixedClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.volunteer.test_cli import _history

    await _history(services, clock)
    out = tmp_path / "hours.csv"
    args = argparse.Namespace(since=date(2026, 12, 1), until=date(2026, 12, 31), team=None, out=str(out), full_id=True)
    services._sealer = Sealer([new_key()])
    assert await export_hours(services, args) == 1
    assert "身份证号解不开" in capsys.readouterr().err and not out.exists()


def _scratch_url(name: str) -> tuple[str, str]:
    """(asyncpg DSN of the server's postgres database, asyncpg-SQLAlchemy URL of database ``name``)."""
    parts = urlsplit(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
    admin = urlunsplit(parts._replace(path="/postgres"))
    return admin, urlunsplit(parts._replace(path=f"/{name}")).replace("postgresql://", "postgresql+asyncpg://")


async def test_the_upgrade_seals_numbers_kept_in_the_clear_and_needs_a_key_for_them() -> None:
    name = f"{urlsplit(PG_URL).path.strip('/')}_seal"
    admin, url = _scratch_url(name)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        await asyncio.to_thread(upgrade, url, "0008")
        db = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            user = await db.fetchval(
                "INSERT INTO users (channel, external_id, subscribed, first_seen, last_seen)"
                " VALUES ('wechat', 'o_clear', true, now(), now()) RETURNING id"
            )
            await db.execute(
                "INSERT INTO volunteer_profiles (user_id, name, id_number, registered_at)"
                " VALUES ($1, '王小明', $2, now())",
                user,
                NUMBER,
            )
            with pytest.raises(RuntimeError, match="holds 1 ID numbers in the clear: set LONGTUAN_DATA_KEY"):
                await asyncio.to_thread(upgrade, url)
            assert await db.fetchval("SELECT id_number FROM volunteer_profiles") == NUMBER, "nothing changed"
            await asyncio.to_thread(upgrade, url, data_key=DATA_KEY)
            row = await db.fetchrow("SELECT * FROM volunteer_profiles")
            assert row is not None and "id_number" not in dict(row)
            assert row["id_masked"] == "110***********002X" and Sealer([DATA_KEY]).open(row["id_sealed"]) == NUMBER
            from alembic import command

            from bot.db.migrate import alembic_config

            await asyncio.to_thread(command.downgrade, alembic_config(url, DATA_KEY), "0008")
            assert await db.fetchval("SELECT id_number FROM volunteer_profiles") == NUMBER
        finally:
            await db.close()
    finally:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
