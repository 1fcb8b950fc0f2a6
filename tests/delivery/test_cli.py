"""``longtuan campaign …`` and ``longtuan worker --metrics-port`` as a cadre and an operator use them."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text

from bot.db import Database
from bot.settings import Settings
from tests.delivery import processes
from tests.delivery.conftest import add_user
from tests.fakes.wechat_api import FakeWeChatAPI
from tests.gateway.support import free_port, poll


# Real processes, each importing the whole service: minutes on a loaded two-core machine, not seconds.
@pytest.mark.timeout(180)
async def test_a_campaign_from_the_command_line_with_a_worker_and_its_metrics(
    db: Database, fake_wechat: FakeWeChatAPI, delivery_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = delivery_settings(outbox_poll=0.1)
    now = time.time()
    for n in range(4):
        await add_user(db, f"o-cli{n}", now - 600, street="坂田")
        fake_wechat.interact(f"o-cli{n}", at=now - 600)
    await add_user(db, "o-cli-far", now - 600, street="龙城")
    await add_user(db, "o-cli-left", now - 600, street="坂田", subscribed=False)

    code, out, err = await processes.run(
        settings, "bot.cli", "campaign", "create", "--name", "坂田周末", "--by", "li", "--text", "坂田青年之家周六开放",
        "--audience", "streets:坂田",
    )  # fmt: skip
    assert code == 0, err
    cid = re.search(r"群发活动 (\d+) 已建好", out)
    assert cid is not None
    ident = cid.group(1)
    listing = tmp_path / "unreachable.csv"
    code, out, err = await processes.run(settings, "bot.cli", "campaign", "plan", ident, "--unreachable", str(listing))
    assert code == 0, err
    assert "共 5 人" in out and "custom" in out and "unsubscribed" in out and "现在发不到" in out
    assert "客服消息" in out and "已取消关注" in out  # the way and the reason as a cadre reads them
    assert listing.read_text(encoding="utf-8-sig").splitlines() == ["openid,reason", "o-cli-left,unsubscribed"]
    code, out, err = await processes.run(settings, "bot.cli", "campaign", "send", ident, "--by", "li")
    assert code == 1 and "这一步要在「已批准」（approved）时才能做" in err
    for step in ("approve", "send"):
        code, out, err = await processes.run(settings, "bot.cli", "campaign", step, ident, "--by", "li")
        assert code == 0, err

    port = free_port()
    worker = await processes.start(settings, "bot.cli", "worker", "--metrics-port", str(port))
    try:

        async def delivered() -> bool:
            return all(fake_wechat.to(f"o-cli{n}") for n in range(4))

        assert await poll(delivered, within=20.0)
        async with aiohttp.ClientSession() as http:

            async def scraped() -> bool:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                        body = await resp.text()
                except aiohttp.ClientError:
                    return False
                return 'longtuan_delivery_sent_total{way="custom"} 4.0' in body

            assert await poll(scraped, within=10.0)
            # The outbox's gauges too, refreshed by the worker's housekeeping.
            async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                lines = (await resp.text()).splitlines()
            assert 'longtuan_delivery_quota_left{way="template"} 100000.0' in lines
            assert any(line.startswith('longtuan_outbox_depth{status="pending"}') for line in lines)
            assert any(line.startswith("longtuan_outbox_oldest_due_seconds") for line in lines)
    finally:
        assert await processes.stop(worker) == 0
    code, out, err = await processes.run(settings, "bot.cli", "campaign", "status", ident)
    assert code == 0, err
    assert "done" in out and "[##############################] 5/5" in out
    code, out, err = await processes.run(settings, "bot.cli", "campaign", "cancel", ident, "--by", "wang")
    assert code == 1 and "现在是「已发完」（done）" in err
    async with db.session() as s:
        actions = (await s.execute(text("SELECT action FROM campaign_audit ORDER BY id"))).scalars().all()
    assert actions == ["create", "plan", "approve", "send", "done"]
