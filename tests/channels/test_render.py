"""Rendering a neutral reply as WeChat text: the 2,048-byte budget keeps buttons whole; Reply is immutable."""

from __future__ import annotations

import dataclasses

import pytest

from bot.channels.wechat.render import MAX_TEXT_BYTES, reply_to_text
from bot.model import Button, Reply


def test_a_long_text_is_shortened_and_its_buttons_are_never_cut() -> None:
    buttons = (
        Button("报名第一期", payload="报名 1"),
        Button("报名第二期", payload="报名 2"),
        Button("看地图", url="https://j.map.baidu.com/x"),
    )
    reply = Reply(text="青年夜校" * 400, buttons=buttons, more="夜校 第2页")
    text = reply_to_text(reply)
    assert len(text.encode()) <= MAX_TEXT_BYTES
    for link in (
        'msgmenucontent=%E6%8A%A5%E5%90%8D%201&msgmenuid=1">报名第一期</a>',
        '<a href="https://j.map.baidu.com/x">看地图</a>',
        ">更多</a>",
    ):
        assert link in text
    body = text.split("\n<a", 1)[0]
    assert body.endswith("…") and body.startswith("青年夜校")


def test_a_short_reply_is_left_whole() -> None:
    reply = Reply(text="好的", buttons=(Button("帮助"),))
    assert (
        reply_to_text(reply)
        == '好的\n<a href="weixin://bizmsgmenu?msgmenucontent=%E5%B8%AE%E5%8A%A9&msgmenuid=1">帮助</a>'
    )


def test_reply_is_immutable_and_survives_the_retry_cache() -> None:
    reply = Reply("x.y", {"n": 1}, buttons=[Button("一", "1")], text="你好", more="下一页")
    with pytest.raises(dataclasses.FrozenInstanceError):
        reply.text = "改了"  # type: ignore[misc]
    assert isinstance(reply.buttons, tuple)
    back = Reply.loads(reply.dumps())
    assert (back.key, back.text, back.buttons, back.more) == ("x.y", "你好", (Button("一", "1"),), "下一页")
