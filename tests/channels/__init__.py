"""WeChat channel tests: the recorded platform payloads and the few readers the test modules share."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.harness import Gateway

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "wechat"

#: The follower every fixture comes from, and the account every fixture is sent to.
USER = "oLtq5wXkP3_rN8bYc2Vd6hJm9sA4"
ACCOUNT = "gh_longtuan"


def fixture(name: str) -> str:
    """One recorded payload, exactly as the platform POSTs it (plaintext, before any encryption)."""
    return (FIXTURES / f"{name}.xml").read_text(encoding="utf-8")


def fixture_names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.xml"))


def restamp(xml: str, *, create_time: int | None = None, msg_id: str | None = None, user: str | None = None) -> str:
    """The same payload with another CreateTime, MsgId or sender (the fixtures themselves stay literal)."""
    if create_time is not None:
        xml = re.sub(r"<CreateTime>\d+</CreateTime>", f"<CreateTime>{create_time}</CreateTime>", xml)
    if msg_id is not None:
        xml = re.sub(r"<MsgId>\d+</MsgId>", f"<MsgId>{msg_id}</MsgId>", xml)
    if user is not None:
        xml = xml.replace(f"<![CDATA[{USER}]]>", f"<![CDATA[{user}]]>")
    return xml


async def metric(gateway: Gateway, sample: str, **labels: str) -> float:
    """One sample of the gateway's own ``GET /metrics`` page (0 when it has not been counted yet)."""
    assert gateway.http is not None
    async with gateway.http.get(gateway.url("/metrics")) as resp:
        assert resp.status == 200
        page = await resp.text()
    for family in text_string_to_metric_families(page):
        for s in family.samples:
            if s.name == sample and s.labels == labels:
                return float(s.value)
    return 0.0
