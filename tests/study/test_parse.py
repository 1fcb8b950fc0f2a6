"""Reading what members type: branch codes and the name the official list knows them by."""

from __future__ import annotations

from datetime import datetime

from bot.commands.study_imports import default_close
from handlers.study.parse import bare_code, identity, prefixed_code
from tests.study.support import SHANGHAI


def test_branch_codes() -> None:
    assert bare_code("bt01") == "BT01" and bare_code(" LG-PH-12。") == "LG-PH-12"
    assert bare_code("ＢＴ０１") == "BT01"  # full-width, as some keyboards type it
    assert bare_code("你好") is None and bare_code("12345") is None and bare_code("BT") is None
    assert prefixed_code("绑定 BT01") == "BT01" and prefixed_code("支部码：bj02") == "BJ02"
    assert prefixed_code("绑定支部") is None  # the command itself, not a code


def test_identity() -> None:
    assert identity("张三") == ("张三", "", "")
    assert identity("张三 13800138000") == ("张三", "13800138000", "")
    assert identity("张三，团员编号 4403071234") == ("张三", "", "4403071234")
    assert identity("阿依古丽·买买提") == ("阿依古丽·买买提", "", "")
    assert identity("13800138000") is None  # no name
    assert identity("我叫什么你猜猜看吧哈哈哈") is None
    assert identity("张三 李四") is None  # two names: ask again rather than guess


def test_an_episode_closes_the_sunday_after_it_opens() -> None:
    monday = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)
    assert default_close(monday) == datetime(2026, 12, 6, 22, 0, tzinfo=SHANGHAI)
    late_sunday = datetime(2026, 12, 6, 23, 0, tzinfo=SHANGHAI)
    assert default_close(late_sunday) == datetime(2026, 12, 13, 22, 0, tzinfo=SHANGHAI)
