"""Care's routes stand before the FAQ: none of them may take a question the FAQ answers."""

from __future__ import annotations

from tests.harness import Gateway


async def test_every_faq_example_still_reaches_its_entry_through_the_whole_router(gateway: Gateway) -> None:
    wrong = []
    for i, entry in enumerate(gateway.services.content.faq):
        for example in entry.examples:
            answer = await gateway.say(f"o-routes-{i}", example)
            if answer.text != entry.answer:
                wrong.append(f"{example!r} -> {answer.text[:30]!r}, not {entry.id}")
    assert not wrong, "\n".join(wrong)
