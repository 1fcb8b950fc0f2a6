"""``longtuan chat``: talk to the bot from a terminal over signed HTTP, exactly as WeChat does.

Without ``--url`` it starts the app in-process on a free loopback port (embedded defaults work),
and late replies (customer-service sends) are printed as they would arrive on the phone.
Tappable choices (``weixin://bizmsgmenu`` links) are shown numbered: typing the number sends
what tapping would.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Sequence
from html import unescape
from urllib.parse import unquote

import aiohttp
from aiohttp import web

from bot.channels.wechat.render import reply_to_text
from bot.channels.wechat.simulator import Answer, WeChatSimulator, event_xml, location_xml, text_xml
from bot.errors import ConfigError
from bot.outbound import SENT, Notice, SendResult
from bot.settings import Settings

HELP = (
    "输入消息回车发送。/tap 序号 点回复里的选项  /follow 关注  /scan 场景  /click 菜单键  "
    "/location 纬度 经度  /unfollow  /quit 退出"
)

_CHOICE = re.compile(r'<a href="weixin://bizmsgmenu\?msgmenucontent=([^&"]*)&msgmenuid=\d+">([^<]*)</a>')
_TAP = re.compile(r"/tap\s*(\d{1,2})")
_LINK = re.compile(r'<a href="([^"]+)">([^<]*)</a>')


class ChatError(Exception):
    """One line for the developer instead of a traceback."""


class _PrintingNotifier:
    async def send(self, notice: Notice) -> SendResult:
        print(f"\n龙团（稍后 · {notice.purpose}）> {reply_to_text(notice.reply)}\n", flush=True)
        return SENT


#: Where ``/location`` without coordinates is: 龙城街道 (GCJ-02, as WeChat sends it).
_LONGCHENG = (22.7209, 114.2468, "深圳市龙岗区龙城街道")
LOCATION_USAGE = "（/location 纬度 经度 [地名]，比如 /location 22.6160 114.1375 南湾街道；不写就是龙城街道）"


def _location(user: str, arg: str) -> str | None:
    """``/location 纬度 经度 [地名]`` as a location message, or None when they are not two numbers
    of the right ranges."""
    parts = arg.replace(",", " ").replace("，", " ").split()
    if not parts:
        lat, lng, label = _LONGCHENG
    else:
        try:
            lat, lng = float(parts[0]), float(parts[1])
        except (IndexError, ValueError):
            return None
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            return None
        label = " ".join(parts[2:])
    return location_xml(user, lat, lng, label)


def _xml_for(line: str, user: str) -> str | None:
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
        return _location(user, arg)
    return text_xml(user, line)


def menu_keys(settings: Settings) -> dict[str, str]:
    """The CLICK keys of the custom menu and their labels, for the banner and unknown-key hints."""
    from bot.content import load_content

    try:
        menu = load_content(settings.content_dir or None).menu
    except ConfigError:
        return {}
    return {
        b["key"]: b.get("name", "")
        for top in menu.get("button", [])
        for b in top.get("sub_button", [top])
        if b.get("type") == "click" and b.get("key")
    }


def show_reply(text: str) -> tuple[str, list[str]]:
    """The reply as the terminal shows it, and the payloads of its numbered choices."""
    payloads: list[str] = []

    def choice(m: re.Match[str]) -> str:
        payloads.append(unquote(m.group(1)))
        return f"  [{len(payloads)}] {unescape(m.group(2))}"

    shown = _CHOICE.sub(choice, text)
    shown = _LINK.sub(lambda m: f"{unescape(m.group(2))}（{m.group(1)}）", shown)
    return shown, payloads


def why_refused(answer: Answer, mode: str) -> str:
    reason = answer.body.strip()
    if reason == "bad_signature":
        hint = "the signature was refused: LONGTUAN_WECHAT_TOKEN differs from the server's"
    elif reason == "bad_payload" and mode == "plain":
        hint = "the server refuses plain messages (it has an AES key): set the same LONGTUAN_WECHAT_AES_KEY here"
    elif reason == "bad_payload":
        hint = "the server could not decrypt it: LONGTUAN_WECHAT_AES_KEY or _APP_ID differs from the server's"
    elif reason == "stale_timestamp":
        hint = "the server's clock and this one differ by more than LONGTUAN_WECHAT_REPLAY_WINDOW"
    else:
        hint = "refused"
    return f"（HTTP {answer.status} {reason}: {hint}）"


def why_silent(line: str, keys: dict[str, str], in_process: bool) -> str:
    cmd, _, arg = line.partition(" ")
    if cmd == "/unfollow":
        return "（无回复：取消关注的人收不到消息，这是平台的规则）"
    if cmd == "/click" and keys and (arg or "HELP") not in keys:
        return f"（无回复：菜单里没有 {arg} 这个键；有 {' '.join(keys)}）"
    if in_process:
        return "（无回复：服务器答了 success，没有要说的；稍后送达的回复会显示在下面）"
    return "（无回复：服务器答了 success；稍后的回复会以客服消息发出，这里看不到）"


async def run_chat(
    settings: Settings, *, url: str | None, user: str, mode: str | None, script: Sequence[str] | None
) -> None:
    """Chat until /quit or the end of ``script``; a setup mistake ends it with one line (exit code 1)."""
    try:
        await _chat(settings, url=url, user=user, mode=mode, script=script)
    except ChatError as exc:
        print(f"longtuan chat: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


async def _chat(
    settings: Settings, *, url: str | None, user: str, mode: str | None, script: Sequence[str] | None
) -> None:
    aes = settings.wechat_aes_key.get_secret_value() if settings.wechat_aes_key else None
    mode = mode or ("safe" if aes else "plain")
    if mode != "plain" and aes is None:
        raise ChatError(f"--mode {mode} needs LONGTUAN_WECHAT_AES_KEY (the server's 43-character EncodingAESKey)")
    keys = menu_keys(settings)
    runner: web.AppRunner | None = None
    in_process = url is None
    if url is None:
        from bot.app import create_app

        runner = web.AppRunner(create_app(settings, notifier=_PrintingNotifier()), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}/wechat"
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
            await _converse(sim, url, user, mode, keys, in_process, list(script) if script else None)
            if runner is not None:
                await asyncio.sleep(0)  # let a late reply still in flight print
    finally:
        if runner is not None:
            await runner.cleanup()
    sys.stdout.flush()


async def _converse(
    sim: WeChatSimulator,
    url: str,
    user: str,
    mode: str,
    keys: dict[str, str],
    in_process: bool,
    lines: list[str] | None,
) -> None:
    if lines is None:
        print(f"龙团 · {url} · {mode} · {HELP}")
        if keys:
            print("菜单键：" + "  ".join(f"/click {k}（{name}）" for k, name in keys.items()))
    choices: list[str] = []
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
        # 「/tap 2」 taps choice [2] and sends what tapping it sends. A bare 「2」 is text, as in
        # WeChat: the bot's own numbered lists (「回复序号看详情」) read it.
        tap = _TAP.fullmatch(line)
        if tap:
            if not 1 <= int(tap.group(1)) <= len(choices):
                print(f"（没有选项 [{tap.group(1)}]：上一条回复有 {len(choices)} 个选项）\n")
                continue
            line = choices[int(tap.group(1)) - 1]
            print(f"（点了：{line}）")
        xml = _xml_for(line, user)
        if xml is None:
            print(LOCATION_USAGE + "\n")
            continue
        try:
            answer = await sim.post(xml)
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise ChatError(f"cannot reach {url} ({type(exc).__name__}): is `longtuan serve` running there?") from None
        if answer.status != 200:
            print(why_refused(answer, mode))
        elif answer.text:
            shown, choices = show_reply(answer.text)
            print(f"龙团> {shown}\n")
        else:
            print(why_silent(line, keys, in_process) + "\n")
