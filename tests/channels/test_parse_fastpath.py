"""The regular-expression reader of WeChat XML gives exactly what expat gives, or declines.

``parse_xml`` reads the flat layout WeChat sends with ``_parse_fast`` and leaves anything else
to ``_parse_expat``. Compared here: the recorded payloads, a few thousand documents generated
from a seeded alphabet of fragments (hypothesis is not a dependency of the project), random
mutations of the recorded payloads, and the hostile documents, which must never get past expat.
"""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from bot.channels.wechat.parse import _parse_expat, _parse_fast, parse_xml
from bot.errors import BadPayload
from tests.channels import ACCOUNT, USER, fixture, fixture_names

Outcome = dict[str, str] | str


def outcome(parse: Callable[[bytes | str], dict[str, str]], doc: bytes | str) -> Outcome:
    """The dict, or the refusal with its message (or the type of any other exception)."""
    try:
        return parse(doc)
    except BadPayload as exc:
        return f"BadPayload: {exc}"
    except Exception as exc:  # noqa: BLE001 - compared, not hidden: both readers must agree
        return type(exc).__name__


def is_flat(xml: str) -> bool:
    """Only leaves under the root, each name once: what the fast reader is for."""
    children = list(ET.fromstring(xml))
    return all(len(child) == 0 for child in children) and len({c.tag for c in children}) == len(children)


# -- the recorded payloads ---------------------------------------------------------------------


@pytest.mark.parametrize("name", fixture_names())
def test_fixture_same_dict_from_both_readers(name: str) -> None:
    xml = fixture(name)
    expected = _parse_expat(xml)
    assert expected, "the fixture has fields"
    for doc in (xml, xml.encode()):
        assert _parse_expat(doc) == expected
        assert parse_xml(doc) == expected
        fast = _parse_fast(doc)
        if is_flat(xml):
            assert fast == expected, "a flat payload is read by the fast reader"
            assert list(fast) == list(expected), "in document order"
        else:
            assert fast is None, "a nested payload is left to expat"


def test_fast_reader_handles_the_common_messages() -> None:
    flat = [name for name in fixture_names() if _parse_fast(fixture(name)) is not None]
    for name in ("text", "image", "voice", "voice_recognition", "location", "link", "event_subscribe", "event_click"):
        assert name in flat
    assert len(flat) >= 16


# -- chosen edge cases -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "fields"),
    [
        ("<xml></xml>", {}),
        ("  \n<xml>\n</xml>\n  ", {}),
        ("<xml><A/><B></B><Content/></xml>", {"A": "", "B": "", "Content": ""}),
        ("<xml><A><![CDATA[]]></A></xml>", {"A": ""}),
        ("<xml><Content><![CDATA[  两个空格 ]] > ]]]></Content></xml>", {"Content": "  两个空格 ]] > ]"}),
        ("<xml><Title><![CDATA[  <b>&amp;</b>\t]]></Title></xml>", {"Title": "<b>&amp;</b>"}),
        ("<xml>\t<a.b-c_d>1</a.b-c_d> <_x> 2 </_x></xml>", {"a.b-c_d": "1", "_x": "2"}),
        ("<xml><Content>\n line \n</Content><MsgId> 9 </MsgId></xml>", {"Content": "\n line \n", "MsgId": "9"}),
        ("<xml><xml>inner</xml></xml>", {"xml": "inner"}),
        ("<xml><A>\u3000x\x85</A><B>\U0001f600</B></xml>", {"A": "x", "B": "\U0001f600"}),
    ],
)
def test_fast_reader_accepts(doc: str, fields: dict[str, str]) -> None:
    assert _parse_fast(doc) == fields
    assert _parse_fast(doc.encode()) == fields
    assert _parse_expat(doc) == fields


@pytest.mark.parametrize(
    "doc",
    [
        '<?xml version="1.0" encoding="UTF-8"?><xml><A>1</A></xml>',  # a declaration: expat reads it
        "<xml><A>1</A><A>2</A></xml>",  # repeated: expat numbers it A#2
        "<xml><A>a\r\nb</A></xml>",  # expat turns CR LF into LF
        "<xml><A><![CDATA[a\rb]]></A></xml>",
        "<xml><A>1</A>\r\n</xml>",
        "<xml><A>&amp;</A></xml>",  # a reference
        "<xml><A>a>b</A></xml>",  # well-formed, but the fast reader wants no ">" in plain text
        "<xml><A><![CDATA[a]]]]><![CDATA[>b]]></A></xml>",  # "]]>" split over two sections
        "<xml><A> <![CDATA[x]]> </A></xml>",  # text around the section
        "<xml><A><B>1</B></A></xml>",  # nested
        "<xml><!-- c --><A>1</A></xml>",
        "<xml><?pi x?><A>1</A></xml>",
        '<xml a="1"><A>1</A></xml>',
        '<xml><A b="1">1</A></xml>',
        "<xml><A >1</A ></xml>",
        "<xml>text<A>1</A></xml>",
        "<xml><a:b>1</a:b></xml>",  # well-formed for expat without namespaces; not an ASCII \w name
        "<xml><名字>1</名字></xml>",
        "\ufeff<xml><A>1</A></xml>",
        "<xml><A>1</A></xml><!-- after -->",
        "<root><A>1</A></root>",
        "<xml><A>1</B></xml>",
        "<xml><A><![CDATA[x]]>y]]></A></xml>",
        "<xml><A>\x00</A></xml>",
        "<xml><A><![CDATA[\x0b]]></A></xml>",
        "<xml><A>\ufffe</A></xml>",
        "<xml><A>1</A>",
        "",
    ],
)
def test_fast_reader_declines(doc: str) -> None:
    assert _parse_fast(doc) is None
    assert outcome(parse_xml, doc) == outcome(_parse_expat, doc)


def test_invalid_utf8_is_still_refused() -> None:
    for doc in (b"<xml><A>\xff</A></xml>", b"<xml><A>\xed\xa0\x80</A></xml>", b"<xml><A>\xc0\x80</A></xml>"):
        assert _parse_fast(doc) is None
        with pytest.raises(BadPayload):
            parse_xml(doc)


# -- hostile documents -------------------------------------------------------------------------

_FLAT = (
    f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{USER}]]></FromUserName>"
    "<CreateTime>1718158802</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>{content}</Content></xml>"
)
_LAUGHS = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' if i else '<!ENTITY lol0 "lol">' for i in range(10))
HOSTILE = [
    f"<!DOCTYPE xml [{_LAUGHS}]>" + _FLAT.format(content="&lol9;"),
    f'<?xml version="1.0"?>\n<!DOCTYPE xml [{_LAUGHS}]>\n' + _FLAT.format(content="&lol9;"),
    '<!DOCTYPE xml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>' + _FLAT.format(content="&secret;"),
    '<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://example.invalid/x.dtd"> %p;]>' + _FLAT.format(content="x"),
    '<!DOCTYPE xml SYSTEM "http://example.invalid/x.dtd">' + _FLAT.format(content="x"),
    "<!DOCTYPE xml>" + _FLAT.format(content="x"),
    '<!DOCTYPE xml [<!ENTITY a "b">]>' + _FLAT.format(content="<![CDATA[&a;]]>"),
    _FLAT.format(content="x").replace("<xml>", '<xml><!DOCTYPE xml [<!ENTITY a "b">]>'),
]


@pytest.mark.parametrize("doc", HOSTILE)
def test_hostile_documents_never_take_the_fast_path(doc: str) -> None:
    for body in (doc, doc.encode()):
        assert _parse_fast(body) is None
        with pytest.raises(BadPayload):
            parse_xml(body)


# -- generated documents -----------------------------------------------------------------------

NAMES = ["ToUserName", "Content", "Content", "MsgId", "A", "a.b-c", "_x", "xml", "a:b", "1a", "名字", "Event"]
TEXT = [
    "a", "夜校", " ", "  ", "\t", "\n", "\r", "\r\n", "]", "]]", ">", "]]>", "<", "&", "&amp;", "&lt;", "&#60;",
    "&#x3C;", "&e;", "\u3000", "\x85", "\x0b", "\x00", "\x7f", "\ufffe", "\U0001f600", '"', "'", "<!--", "-->", "?>",
]  # fmt: skip
BETWEEN = ["", " ", "\n  ", "\t", "\r\n", "x", "<!-- c -->", "<?pi x?>", "&amp;", "]]>"]
PREFIX = [
    "", "", "", " ", "\n", "\r\n", "\ufeff", '<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-8"?>\n',
    "<!DOCTYPE xml>", '<!DOCTYPE xml [<!ENTITY e "x">]>', "<!-- c -->",
]  # fmt: skip
ROOTS = ["<xml>"] * 8 + ['<xml a="1">', "<root>", "<xml >", "<XML>"]
SUFFIX = ["", "", "\n", " \n", "\r\n", "<!-- c -->", "x", "<xml></xml>", "</xml>"]


class Generator:
    """Documents from the fragments above; ``noise`` is how often a fragment is an odd one."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.noise = 0.0

    def odd(self, weight: float = 1.0) -> bool:
        return self.rng.random() < self.noise * weight

    def text(self, pieces: int) -> str:
        rng = self.rng
        return "".join(rng.choice(TEXT) if self.odd() else rng.choice(["a", "1", " ", "龙"]) for _ in range(pieces))

    def cdata(self) -> str:
        sections = 2 if self.odd(0.3) else 1
        return "".join(f"<![CDATA[{self.text(self.rng.randrange(6))}]]>" for _ in range(sections))

    def element(self, depth: int) -> str:
        rng = self.rng
        name = rng.choice(NAMES) if self.odd() else rng.choice([*NAMES[:3], "MsgType", "CreateTime"])
        close = rng.choice(NAMES) if self.odd(0.1) else name
        kind = rng.random()
        if kind < 0.45:
            body = self.cdata()
        elif kind < 0.85:
            body = self.text(rng.randrange(5))
        elif kind < 0.9:
            return f"<{name}/>"
        elif kind < 0.95 and depth < 2:
            body = "".join(self.element(depth + 1) for _ in range(rng.randrange(1, 3)))
        else:
            body = self.text(1) + self.cdata() + self.text(1)
        return f"<{name}>{body}</{close}>"

    def document(self) -> str:
        rng = self.rng
        self.noise = rng.choice([0.0, 0.0, 0.02, 0.1, 0.3])
        root = rng.choice(ROOTS) if self.odd() else "<xml>"
        parts = [rng.choice(PREFIX) if self.odd() else "", root]
        for _ in range(rng.randrange(7)):
            parts.append(rng.choice(BETWEEN) if self.odd() else rng.choice(["", " ", "\n  "]))
            parts.append(self.element(0))
        parts.append(rng.choice(["", "\n"]))
        parts.append("</xml>" if root.startswith("<xml") else "</root>")
        parts.append(rng.choice(SUFFIX) if self.odd() else "")
        return "".join(parts)


def mutate(rng: random.Random, doc: str) -> str:
    """A recorded payload, one random fragment inserted, a span dropped, or an element repeated."""
    choice = rng.random()
    at = rng.randrange(len(doc) + 1)
    if choice < 0.5:
        fragment = rng.choice(TEXT + BETWEEN + ["<A>1</A>", "<![CDATA[", "]]>", "</xml>", "<xml>", "/"])
        return doc[:at] + fragment + doc[at:]
    if choice < 0.8:
        return doc[:at] + doc[at + rng.randrange(1, 12) :]
    start = doc.find("<", doc.find("<xml>") + 1)
    end = doc.find("\n", start)
    return doc[:end] + doc[start:end] + doc[end:]


def assert_same(doc: str, encoding_errors: str = "surrogatepass") -> bool:
    """Both readers agree on ``doc``, as str and as UTF-8; True when the fast one accepted it."""
    fast = False
    for body in (doc, doc.encode("utf-8", encoding_errors)):
        expected = outcome(_parse_expat, body)
        assert outcome(parse_xml, body) == expected, body
        accepted = _parse_fast(body)
        if accepted is not None:
            fast = True
            assert accepted == expected, body
    return fast


def test_generated_documents_read_alike() -> None:
    generate = Generator(random.Random(20240612))
    accepted = refused = 0
    for _ in range(4000):
        doc = generate.document()
        accepted += assert_same(doc)
        refused += isinstance(outcome(_parse_expat, doc), str)
    # The alphabet must exercise both sides: documents the fast reader takes, and refusals.
    assert accepted > 400
    assert refused > 400


def test_mutated_payloads_read_alike() -> None:
    rng = random.Random(7)
    payloads = [fixture(name) for name in fixture_names()]
    accepted = 0
    for _ in range(3000):
        doc = rng.choice(payloads)
        for _ in range(rng.randrange(1, 3)):
            doc = mutate(rng, doc)
        accepted += assert_same(doc)
    assert accepted > 300


def test_lone_surrogate_in_str_behaves_as_before() -> None:
    # expat cannot encode a lone surrogate (UnicodeEncodeError, not BadPayload); the fast reader
    # leaves such a str to it rather than accept it. (The gateway only parses decoded UTF-8.)
    doc = "<xml><A><![CDATA[\ud800]]></A></xml>"
    assert _parse_fast(doc) is None
    assert outcome(parse_xml, doc) == outcome(_parse_expat, doc) == "UnicodeEncodeError"
