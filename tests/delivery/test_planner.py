"""The planner's choice per recipient, and the purpose configuration it reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.outbox.planner import Decision, Facts, Rules, choose
from bot.outbox.purposes import Purpose, load_purposes

RULES = Rules(cs_window=48 * 3600, cs_allowance=5)
NOW = 1_800_000_000.0
TEMPLATE = Purpose("class_reminder", "template", "tpl-1", {"thing1": "{class}"})
SUBSCRIBE = Purpose("internship_match", "subscribe", "sub-1", {"thing1": "{title}"})


def facts(seen_ago: float = 3600, sent: int = 0, subscribed: bool = True, consents: int = 0) -> Facts:
    return Facts(subscribed, NOW - seen_ago, sent, consents)


@pytest.mark.parametrize(
    ("given", "purpose", "expected"),
    [
        (facts(), None, Decision("send", "custom")),
        (facts(), TEMPLATE, Decision("send", "custom")),  # free and immediate: preferred while it lasts
        (facts(seen_ago=48 * 3600), TEMPLATE, Decision("send", "template")),  # the window is closed at 48 h
        (facts(seen_ago=48 * 3600 - 1), None, Decision("send", "custom")),
        (facts(sent=5), TEMPLATE, Decision("send", "template")),  # the allowance is used up
        (facts(sent=4), None, Decision("send", "custom")),
        (facts(seen_ago=50 * 3600), None, Decision("wait", reason="window_closed")),
        (facts(seen_ago=50 * 3600), SUBSCRIBE, Decision("wait", reason="no_consent")),
        (facts(seen_ago=50 * 3600, consents=1), SUBSCRIBE, Decision("send", "subscribe")),
        (facts(subscribed=False), TEMPLATE, Decision("drop", reason="unsubscribed")),
        (Facts(True, 0.0, 0), None, Decision("wait", reason="window_closed")),  # never seen
    ],
)
def test_the_way_for_one_recipient(given: Facts, purpose: Purpose | None, expected: Decision) -> None:
    assert choose(given, purpose, NOW, RULES) == expected


def test_a_refused_way_is_not_chosen_again_and_a_paused_one_waits_for_its_time() -> None:
    assert choose(facts(), TEMPLATE, NOW, RULES, excluded=frozenset({"custom"})) == Decision("send", "template")
    both = frozenset({"custom", "template"})
    assert choose(facts(), TEMPLATE, NOW, RULES, excluded=both) == Decision("wait", reason="template_refused")
    paused = choose(facts(seen_ago=50 * 3600), TEMPLATE, NOW, RULES, paused={"template": NOW + 60})
    assert paused == Decision("later", "template", reason="template_paused", at=NOW + 60)
    over = choose(facts(seen_ago=50 * 3600), TEMPLATE, NOW, RULES, paused={"template": NOW - 1})
    assert over == Decision("send", "template")


def test_template_fields_are_filled_from_the_notice_and_cut_to_the_limit() -> None:
    purpose = Purpose("p", "template", "t", {"thing1": "{class}", "thing2": "{missing}", "thing3": "{text}"})
    data = purpose.data({"class": "摄影入门：从零开始学会用光与构图的二十堂课"}, "明晚上课")
    assert data == {"thing1": "摄影入门：从零开始学会用光与构图的二十堂", "thing2": "", "thing3": "明晚上课"}
    assert len(data["thing1"]) == 20


def test_the_shipped_purposes_load_and_a_bad_one_is_named(tmp_path: Path) -> None:
    shipped = load_purposes()
    assert shipped["class_reminder"].way == "template"
    assert shipped["internship_match"].way == "subscribe"
    bad = tmp_path / "outbox.toml"
    bad.write_text('[purposes.broken]\nway = "sms"\ntemplate_id = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"purposes\.broken"):
        load_purposes(bad)
