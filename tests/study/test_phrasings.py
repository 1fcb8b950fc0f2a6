"""What young people really type about 青年大学习: each reads the answer the command would give."""

from __future__ import annotations

import pytest

from tests.conftest import FixedClock, GatewayFactory
from tests.harness import Gateway
from tests.study.support import seed, this_week

USER = "o-study-phrase"


@pytest.fixture
async def gw(make_gateway: GatewayFactory, clock: FixedClock) -> Gateway:
    gateway = await make_gateway(clock=clock, wechat_replay_window=0)
    await seed(gateway.db)
    return gateway


@pytest.mark.parametrize(
    "said", ["这周的大学习学了没", "大学习学了吗？", "这期大学习是什么", "大学习在哪看", "本周大学习几点截止"]
)
async def test_asking_about_this_week_shows_the_episode(gw: Gateway, said: str) -> None:
    assert (await gw.say(USER, said)).text == this_week(gw, "study.status_unbound")


@pytest.mark.parametrize(
    ("said", "key"),
    [
        ("我是哪个支部的", "study.no_branch"),
        ("我在哪个团支部呀", "study.no_branch"),
        ("别提醒我了", "study.pause_unbound"),
        ("大学习别再催了", "study.pause_unbound"),
        ("取消提醒", "study.pause_unbound"),
        ("关闭提醒吧", "study.pause_unbound"),
        # Questions about the programme still get the FAQ's answer.
        ("大学习是什么", "faq.study.about"),
        ("这周大学习会提醒吗", "faq.study.remind"),
    ],
)
async def test_sentences_reach_their_answer(gw: Gateway, said: str, key: str) -> None:
    await gw.dialog(USER, [(said, key)])
