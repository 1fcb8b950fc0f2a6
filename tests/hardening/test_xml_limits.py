"""Finding 4: nesting, element count and the size of one piece of markup are limited while
parsing, on both readers, so that a full 64 KiB body costs a few hundred KB, never 36 MB."""

from __future__ import annotations

import contextlib
import logging
import tracemalloc

import pytest

from bench.hardening import documents
from bot.channels.wechat.parse import MAX_DEPTH, MAX_ELEMENTS, _parse_expat, parse_xml, to_inbound
from bot.errors import BadPayload, TooComplex
from tests.channels import USER, fixture, fixture_names, restamp
from tests.conftest import GatewayFactory
from tests.hardening.support import expect_refused, now, plain, post, sealed
from tests.harness import Gateway

BODY = 64 * 1024
HEAD = restamp(fixture("text"), create_time=1718158802).split("<Content>")[0]


@pytest.fixture(autouse=True)
def capture_everything(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def nested(depth: int) -> str:
    """A text message with ``depth`` levels of elements below <xml> (the innermost a leaf)."""
    return HEAD + "<a>" * depth + "x" + "</a>" * depth + "</xml>"


def flat(count: int, name: str = "f{i}") -> str:
    """A text message with ``count`` elements in all, <xml> included."""
    leaves = count - 1 - HEAD.count("</")
    return HEAD + "".join(f"<{name.format(i=i)}/>" for i in range(leaves)) + "</xml>"


def refused(doc: str) -> str:
    try:
        parse_xml(doc)
    except BadPayload as exc:
        return exc.reason
    return "accepted"


def test_the_limits_sit_just_above_what_wechat_sends() -> None:
    # MAX_DEPTH counts <xml> itself.
    assert refused(nested(MAX_DEPTH - 1)) == "accepted"
    assert refused(nested(MAX_DEPTH)) == "too_complex"
    assert refused(flat(MAX_ELEMENTS)) == "accepted"
    assert refused(flat(MAX_ELEMENTS + 1)) == "too_complex"
    # The same name repeated (numbered "a#2"…) is counted the same way.
    assert refused(flat(MAX_ELEMENTS + 1, "a")) == "too_complex"
    assert refused(HEAD + "<" + "n" * 65 + "/></xml>") == "too_complex"


@pytest.mark.parametrize("name", fixture_names())
def test_every_recorded_callback_is_well_within_them(name: str) -> None:
    to_inbound(parse_xml(fixture(name)))  # the mass send's copyright check is 5 deep


def test_a_message_with_many_angle_brackets_in_its_text_is_still_read() -> None:
    # The fast reader declines a document with more "<" than MAX_ELEMENTS; expat counts elements.
    text = "<3 " * 400
    fields = parse_xml(HEAD + f"<Content><![CDATA[{text}]]></Content></xml>")
    assert fields["Content"] == text


@pytest.mark.parametrize(
    "doc",
    [
        HEAD + "<a " + " ".join(f'b{i}=""' for i in range(2000)) + "/></xml>",
        HEAD + "<!--" + "x" * 20_000 + "--></xml>",
        HEAD + "<?pi " + "x" * 20_000 + "?></xml>",
    ],
    ids=["attributes", "comment", "processing-instruction"],
)
def test_one_piece_of_markup_over_4_kib_is_refused_before_it_is_built(doc: str) -> None:
    with pytest.raises(TooComplex, match="markup of over"):
        _parse_expat(doc)


def test_text_and_cdata_of_any_length_are_not_markup() -> None:
    long = "长" * 20_000
    assert parse_xml(HEAD + f"<Content><![CDATA[{long}]]></Content></xml>")["Content"] == long
    assert _parse_expat(HEAD + f"<Content>{long}</Content></xml>")["Content"] == long


def peak_kib(doc: str) -> float:
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        with contextlib.suppress(BadPayload):
            to_inbound(parse_xml(doc.encode()))
        return (tracemalloc.get_traced_memory()[1] - base) / 1024
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", sorted(documents(BODY)))
def test_a_full_hostile_body_costs_a_few_hundred_kb(name: str) -> None:
    # Memory, not time: tracemalloc counts the same allocations on every run. The nested
    # document cost 89 MB before the limits (bench: python -m bench.hardening).
    doc = documents(BODY)[name]
    assert len(doc.encode()) <= BODY
    assert peak_kib(doc) < 400


@pytest.mark.parametrize("mode", ["plain", "safe"])
async def test_through_the_webhook_a_nested_body_is_400_too_complex(
    make_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    gateway = await make_gateway(mode=mode)
    doc = documents(BODY // 2)["nested, one name"].replace("<xml>", HEAD, 1)
    doc = doc.replace(str(1718158802), now())
    query, body = sealed(doc) if mode == "safe" else plain(doc)
    await expect_refused(gateway, caplog, query, body, status=400, reason="too_complex", user=USER)


async def test_the_deepest_recorded_callback_still_passes(gateway: Gateway) -> None:
    answer = await post(gateway, *plain(restamp(fixture("event_masssendjobfinish"), create_time=int(now()))))
    assert (answer.status, answer.text) == (200, "success")
