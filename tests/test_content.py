"""Content is data: every key the code uses exists, placeholders match, every FAQ example routes home."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bot.content import load_content
from bot.errors import ConfigError
from bot.router.filters import MenuKey
from handlers import build_router
from handlers.faq import FaqIndex
from tests.conftest import shared_content

ROOT = Path(__file__).resolve().parent.parent
TEXT_KEY = re.compile(r"[a-z_]+(\.[a-z_]+)+")
SOURCES = [p for d in ("bot", "handlers", "scheduler") for p in (ROOT / d).rglob("*.py")]


def _uses() -> list[tuple[str, str, frozenset[str] | None]]:
    """(where, key, parameter names or None when not a literal dict) of every text key in code."""
    found: list[tuple[str, str, frozenset[str] | None]] = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            first = node.args[0]
            if isinstance(first, ast.IfExp) and name == "Reply" and len(node.args) == 1:
                for branch in (first.body, first.orelse):
                    if isinstance(branch, ast.Constant):
                        found.append((f"{path.relative_to(ROOT)}:{node.lineno}", str(branch.value), frozenset()))
                continue
            if name not in ("Reply", "reply", "text") or not isinstance(first, ast.Constant):
                continue
            if not isinstance(first.value, str) or not TEXT_KEY.fullmatch(first.value):
                continue  # e.g. SQLAlchemy's text("SELECT ...")
            params: frozenset[str] | None = frozenset()
            if len(node.args) > 1:
                arg = node.args[1]
                keys = arg.keys if isinstance(arg, ast.Dict) else None
                if keys is None or not all(isinstance(k, ast.Constant) for k in keys):
                    params = None
                else:
                    params = frozenset(str(k.value) for k in keys if isinstance(k, ast.Constant))
            elif name != "Reply" and node.keywords:
                params = frozenset(k.arg for k in node.keywords if k.arg)
            found.append((f"{path.relative_to(ROOT)}:{node.lineno}", first.value, params))
    return found


def test_code_uses_text_keys() -> None:
    assert len(_uses()) >= 18, "the scan found too few uses: it has stopped seeing the code"


def test_every_key_used_exists_with_matching_placeholders() -> None:
    content = load_content()
    for where, key, params in _uses():
        assert key in content.texts, f"{where}: unknown text key {key!r}"
        if params is not None:
            assert params == content.placeholders[key], f"{where}: {key} takes {sorted(content.placeholders[key])}"


def _string_constants() -> set[str]:
    """Every string literal in the code: texts named as defaults (``State(timeout_key=...)``) count as used."""
    return {
        node.value
        for path in SOURCES
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_every_text_is_used_or_reachable() -> None:
    content = load_content()
    used = {key for _, key, _ in _uses()} | set(content.clicks.values()) | _string_constants()
    assert set(content.texts) <= used, f"texts nobody uses: {sorted(set(content.texts) - used)}"


def test_every_text_is_short_and_renders() -> None:
    content = load_content()
    for key in content.texts:
        params = {name: "测试" for name in content.placeholders[key]}
        rendered = content.text(key, **params)
        assert rendered and len(rendered.encode()) < 2048, key
    assert len(content.faq) >= 30
    for entry in content.faq:
        assert len(entry.answer.encode()) < 2048, entry.id


def test_every_faq_example_routes_to_its_entry() -> None:
    content, analyzer = shared_content()
    index = FaqIndex(content.faq, analyzer)
    for entry in content.faq:
        assert entry.examples, f"{entry.id} has no examples"
        for example in entry.examples:
            found = index.match(example)
            assert found is not None and found.id == entry.id, f"{example!r} -> {found and found.id}, not {entry.id}"


def test_the_fallbacks_closest_entries_are_the_nearest_of_all_scores() -> None:
    """``closest`` scores only the entries it may offer; it must offer what filtering every
    entry's score (``scores``, as ``longtuan faq check`` shows them) would."""
    from handlers.faq import SIMILAR

    content, analyzer = shared_content()
    index = FaqIndex(content.faq, analyzer)
    texts = ["夜校咋个报", "今天天气怎么样", "参学比咋算", "我想问一下那个东西还有没有", "志愿 夜校 实习", "ok", "？"]
    texts += [e.question for e in content.faq] + [e.examples[0][:3] for e in content.faq]
    for said in texts:
        near = [sc for sc in index.scores(said) if sc.keywords or sc.similarity >= SIMILAR][:3]
        understood: list[str] = []
        for sc in near:
            understood.extend(w for w in sorted(sc.keywords) if w not in understood)
        assert index.closest(said) == (understood, [sc.entry for sc in near]), said


def test_commands_and_menu_are_consistent() -> None:
    content = load_content()
    words = [w for ws in content.commands.values() for w in ws]
    assert len(words) == len(set(words)), "a command word belongs to two commands"
    keys = {
        b["key"] for top in content.menu["button"] for b in top.get("sub_button", [top]) if b.get("type") == "click"
    }
    # A key is answered from [clicks] or by a programme's own MenuKey route (NIGHT_SCHOOL).
    content_, analyzer = shared_content()
    answered = {
        k
        for route in build_router(content_, analyzer).routes()
        for f in route.filters
        if isinstance(f, MenuKey)
        for k in f.keys
    }
    assert keys <= answered, f"click buttons nobody answers: {sorted(keys - answered)}"
    assert set(content.clicks) <= keys, "[clicks] answers a key no button sends"
    assert len(content.streets) == 11


def test_broken_content_fails_at_start(tmp_path: Path) -> None:
    for f in (ROOT / "content").glob("*.t*"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / "menu.toml").write_text('[clicks]\nHELP = "no.such.text"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"no\.such\.text"):
        load_content(tmp_path)
    (tmp_path / "menu.toml").write_text("[clicks\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"menu\.toml"):
        load_content(tmp_path)


def test_menu_buttons_named_in_texts_exist() -> None:
    """「…」 after 菜单 in any text or FAQ answer names a real button, or users look for it in vain."""
    content = load_content()
    names = {b["name"] for top in content.menu["button"] for b in [top, *top.get("sub_button", [])]}
    texts = [*content.texts.values(), *(e.answer for e in content.faq)]
    mentioned = {m for text in texts for m in re.findall(r"菜单\s*「([^」]+)」", text)}
    assert mentioned, "the scan found no menu mentions"
    assert mentioned <= names, f"menu buttons that do not exist: {sorted(mentioned - names)}"
