"""``longtuan chat``: talk to the bot from a terminal over signed HTTP, exactly as WeChat does.

Without ``--url`` it starts the app in-process on a free loopback port (embedded defaults work),
and late replies (customer-service sends) are printed as they would arrive on the phone.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

import aiohttp
from aiohttp import web

from bot.channels.wechat.render import reply_to_text
from bot.channels.wechat.simulator import WeChatSimulator, event_xml, text_xml
from bot.outbound import SENT, Notice, SendResult
from bot.settings import Settings

HELP = "输入消息回车发送。/follow 关注  /scan 场景  /click 菜单键  /location  /quit 退出"


class _PrintingNotifier:
    async def send(self, notice: Notice) -> SendResult:
        print(f"\n龙团（稍后 · {notice.purpose}）> {reply_to_text(notice.reply)}\n", flush=True)
        return SENT


def _xml_for(line: str, user: str) -> str:
    cmd, _, arg = line.partition(" ")
    if cmd == "/follow":
        return event_xml(user, "subscribe", f"qrscene_{arg}" if arg else "")
    if cmd == "/unfollow":
        return event_xml(user, "unsubscribe", "")
    if cmd == "/scan":
        return event_xml(user, "SCAN", arg, fields={"Ticket": "terminal"})
    if cmd == "/click":
        return event_xml(user, "CLICK", arg or "HELP")
    if cmd == "/location":
        return (
            f"<xml><ToUserName><![CDATA[gh_longtuan]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            "<CreateTime>1732608000</CreateTime><MsgType><![CDATA[location]]></MsgType><Location_X>22.7209</Location_X>"
            "<Location_Y>114.2468</Location_Y><Scale>15</Scale><Label><![CDATA[深圳市龙岗区龙城街道]]></Label>"
            f"<MsgId>{abs(hash(line)) % 10**18 + 2**60}</MsgId></xml>"
        )
    return text_xml(user, line)


async def run_chat(
    settings: Settings, *, url: str | None, user: str, mode: str | None, script: Sequence[str] | None
) -> None:
    runner: web.AppRunner | None = None
    if url is None:
        from bot.app import create_app

        runner = web.AppRunner(create_app(settings, notifier=_PrintingNotifier()), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}/wechat"
    aes = settings.wechat_aes_key.get_secret_value() if settings.wechat_aes_key else None
    mode = mode or ("safe" if aes else "plain")
    try:
        async with aiohttp.ClientSession() as http:
            sim = WeChatSimulator(
                http,
                url,
                settings.wechat_token.get_secret_value(),
                app_id=settings.wechat_app_id,
                aes_key=aes,
                mode=mode,
            )
            lines = list(script) if script else None
            if lines is None:
                print(f"龙团 · {url} · {mode} · {HELP}")
            while True:
                if lines is not None:
                    if not lines:
                        break
                    line = lines.pop(0)
                    print(f"我> {line}")
                else:
                    try:
                        line = (await asyncio.to_thread(input, "我> ")).strip()
                    except EOFError:
                        break
                if not line:
                    continue
                if line in ("/quit", "/exit"):
                    break
                answer = await sim.post(_xml_for(line, user))
                if answer.status != 200:
                    print(f"（HTTP {answer.status}: {answer.body}）")
                elif answer.text:
                    print(f"龙团> {answer.text}\n")
                else:
                    print("（无回复）\n")
            if runner is not None:
                await asyncio.sleep(0)  # let a late reply still in flight print
    finally:
        if runner is not None:
            await runner.cleanup()
    sys.stdout.flush()
