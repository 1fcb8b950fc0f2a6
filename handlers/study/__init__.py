"""青年大学习: binding to a branch, this week's episode, self-reports, pausing reminders.

Each module registers its flow steps before its commands (an answer to 「请回复姓名」 must reach
the flow); images come last, so only a picture nobody else wanted meets the screenshot answer.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.content import Content
from bot.router import Router
from bot.text import Analyzer
from handlers.study import binding, pause, status
from handlers.study.rules import load_rules


def router(content: Content, analyzer: Analyzer) -> Router:
    if content.dict_path is not None:
        # The reminder rules live beside the texts; a bad one stops the start, as bad content does.
        load_rules(content.dict_path.parent / "study.toml", ZoneInfo("Asia/Shanghai"))
    r = Router("study")
    binding.register(r, content)
    pause.register(r, content)
    status.register(r, content)
    return r
