"""``longtuan chat`` paper cuts: one clear line for each setup mistake, numbered choices, the menu
keys in the banner, and a reason when nothing comes back."""

from __future__ import annotations

import builtins
from typing import Any

import pytest

from bot.chat import run_chat
from bot.settings import Settings
from tests.conftest import AES_KEY, make_settings
from tests.fakes.wechat_api import FakeWeChatAPI
from tests.harness import Gateway


def _settings(redis_prefix: str, fake: FakeWeChatAPI, **overrides: Any) -> Settings:
    return make_settings(redis_prefix, fake.base_url, **overrides)


async def test_a_dead_server_is_one_line(
    redis_prefix: str, fake_wechat: FakeWeChatAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(redis_prefix, fake_wechat)
    with pytest.raises(SystemExit) as stop:
        await run_chat(settings, url="http://127.0.0.1:9/wechat", user="u", mode=None, script=["你好"])
    assert stop.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach http://127.0.0.1:9/wechat" in err[0]


async def test_safe_mode_without_a_key_is_one_line(
    redis_prefix: str, fake_wechat: FakeWeChatAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(redis_prefix, fake_wechat, wechat_aes_key=None)
    with pytest.raises(SystemExit):
        await run_chat(settings, url="http://127.0.0.1:9/wechat", user="u", mode="safe", script=["你好"])
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "longtuan chat: --mode safe needs LONGTUAN_WECHAT_AES_KEY (the server's 43-character EncodingAESKey)"
    ]


async def test_a_key_or_token_mismatch_is_named(
    gateway: Gateway, redis_prefix: str, fake_wechat: FakeWeChatAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    url = gateway.url("/wechat")
    other_key = AES_KEY[::-1]
    await run_chat(
        _settings(redis_prefix, fake_wechat, wechat_aes_key=other_key), url=url, user="u", mode=None, script=["你好"]
    )
    assert "HTTP 400 bad_payload: the server could not decrypt it" in capsys.readouterr().out
    await run_chat(
        _settings(redis_prefix, fake_wechat, wechat_token="another-token"),
        url=url,
        user="u",
        mode=None,
        script=["你好"],
    )
    assert "HTTP 403 bad_signature: the signature was refused: LONGTUAN_WECHAT_TOKEN" in capsys.readouterr().out


async def test_choices_are_numbered_and_silence_is_explained(
    gateway: Gateway, redis_prefix: str, fake_wechat: FakeWeChatAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(redis_prefix, fake_wechat)
    script = ["志愿者保险怎么办", "/tap 7", "/tap 1", "/click NOPE", "/unfollow"]
    await run_chat(settings, url=gateway.url("/wechat"), user="o-chat-1", mode=None, script=script)
    out = capsys.readouterr().out
    assert "[1] 怎么成为志愿者" in out and "weixin://" not in out
    assert "（没有选项 [7]" in out
    assert "（点了：怎么成为志愿者）" in out and "欢迎加入龙岗志愿者大家庭" in out
    assert "菜单里没有 NOPE 这个键；有 NIGHT_SCHOOL" in out
    assert "取消关注的人收不到消息" in out


async def test_the_banner_lists_the_menu_keys(
    gateway: Gateway,
    redis_prefix: str,
    fake_wechat: FakeWeChatAPI,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_input(prompt: str = "") -> str:
        raise EOFError

    monkeypatch.setattr(builtins, "input", no_input)
    await run_chat(_settings(redis_prefix, fake_wechat), url=gateway.url("/wechat"), user="u", mode=None, script=None)
    out = capsys.readouterr().out
    assert "/click NIGHT_SCHOOL（青年夜校）" in out and "/click CONTACT（联系我们）" in out


async def test_location_sends_the_coordinates_typed(
    gateway: Gateway, redis_prefix: str, fake_wechat: FakeWeChatAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    """``/location 纬度 经度`` sends that place (it used to send 龙城 whatever was typed): at the
    demo's try-it-now shift, the check-in is within its radius and verified."""
    from datetime import datetime

    from bot.content import DEFAULT_DIR
    from bot.db.volunteer.demo import load as load_demo

    await load_demo(gateway.db, DEFAULT_DIR / "demo", now=datetime.now().astimezone())
    settings = _settings(redis_prefix, fake_wechat)
    script = ["/location 22.6161 114.1376 南湾街道", "签到 381204", "/location 北纬22度", "/location 95 114"]
    await run_chat(settings, url=gateway.url("/wechat"), user="o-chat-loc", mode=None, script=script)
    out = capsys.readouterr().out
    assert "1. 南湾志愿港湾便民服务 15米" in out, out
    assert "签到成功✅ 南湾志愿港湾便民服务" in out and "位置已核验" in out, out
    assert out.count("（/location 纬度 经度") == 2, out
