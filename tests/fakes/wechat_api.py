"""A fake api.weixin.qq.com that enforces the platform rules the bot must live with."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tests.fakes.wechat_delivery import DeliveryRules, Refused

TOKEN_TTL = 7200
#: Customer-service messages: only within 48 h of the user's last message (more in wechat_delivery).
WINDOW_SECONDS = 48 * 3600
MAX_TEXT_BYTES = 2048
MAX_BUTTONS = 3
MAX_SUB_BUTTONS = 5
#: Menu names: 16 bytes top level, 60 bytes in a sub-menu (WeChat counts UTF-8 bytes).
MAX_BUTTON_NAME = 16
MAX_SUB_BUTTON_NAME = 60
BUTTON_TYPES = frozenset(
    {
        "click",
        "view",
        "miniprogram",
        "scancode_push",
        "scancode_waitmsg",
        "pic_sysphoto",
        "pic_photo_or_album",
        "pic_weixin",
        "location_select",
        "media_id",
        "article_id",
        "article_view_limited",
    }
)

ERRMSGS: dict[int, str] = {
    -1: "system error",
    0: "ok",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40008: "invalid message type",
    40013: "invalid appid",
    40014: "invalid access_token",
    40016: "invalid button size",
    40017: "invalid button type",
    40018: "invalid button name size",
    40023: "invalid sub button size",
    40024: "invalid sub button type",
    40025: "invalid sub button name size",
    40066: "invalid url",
    40097: "invalid args",
    40125: "invalid appsecret",
    41001: "access_token missing",
    42001: "access_token expired",
    44004: "empty content",
    40037: "invalid template_id",
    40130: "invalid openid list size, at least two openid",
    43004: "require subscribe",
    43101: "user refuse to accept the msg",
    45002: "content size out of limit",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit",
    45028: "has no masssend quota",
    45065: "clientmsgid exist",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
}

# An escape preceded by an even run of backslashes is a real \uXXXX escape, not an escaped backslash.
_UNICODE_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u")

Handler = Callable[[web.Request], Awaitable[dict[str, Any]]]


_Failure = Refused


class FakeWeChatAPI(DeliveryRules):
    """An aiohttp server on 127.0.0.1 speaking the WeChat server API's errcode protocol."""

    def __init__(self, app_id: str, app_secret: str, clock: Callable[[], float] = time.time) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.clock = clock
        self.sent: list[dict[str, Any]] = []
        #: Raw request bodies of accepted customer-service messages, as bytes on the wire.
        self.raw_sent: list[bytes] = []
        self.calls: list[tuple[str, str]] = []
        self.token_requests = 0
        self.menu: dict[str, Any] | None = None
        #: Scenes of the permanent QR codes created, in order.
        self.qr_scenes: list[str] = []
        #: Accepted qrcode/create bodies, in order.
        self.qr_codes: list[dict[str, Any]] = []
        self.base_url = ""
        self.tokens: dict[str, float] = {}
        self._expired: set[str] = set()
        self._failures: dict[str, list[int]] = {}
        self._runner: web.AppRunner | None = None
        self._routes: dict[str, Handler] = {
            "/cgi-bin/token": self._token,
            "/cgi-bin/message/custom/send": self._custom_send,
            "/cgi-bin/menu/create": self._menu_create,
            "/cgi-bin/qrcode/create": self._qrcode_create,
            "/cgi-bin/message/template/send": self._template,
            "/cgi-bin/message/subscribe/bizsend": self._subscribe,
            "/cgi-bin/message/mass/send": self._mass,
        }
        self._init_delivery()

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        # No access log: request lines carry the secret and tokens in their query strings.
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def expire_tokens(self) -> None:
        self._expired.update(self.tokens)

    def fail_next(self, path: str, errcode: int, times: int = 1) -> None:
        self._failures.setdefault(path, []).extend([errcode] * times)

    @property
    def current_tokens(self) -> list[str]:
        return [t for t in self.tokens if self._token_error(t) is None]

    async def _dispatch(self, request: web.Request) -> web.Response:
        path = request.path
        handler = self._routes.get(path)
        if handler is None:
            self.calls.append((path, "40066"))
            return _response(40066, status=404)
        try:
            queued = self._failures.get(path)
            if queued:
                raise _Failure(queued.pop(0))
            if path != "/cgi-bin/token":
                self._check_token(request)
                self._pace(path)
            data = await handler(request)
        except _Failure as failure:
            self.errors[failure.errcode] += 1
            self.calls.append((path, str(failure.errcode)))
            return _response(failure.errcode)
        self.calls.append((path, "ok"))
        if path == "/cgi-bin/token":
            # A successful token answer is the one reply without errcode/errmsg on the real API.
            return _json(data)
        return _json({"errcode": 0, "errmsg": "ok", **data})

    def _token_error(self, token: str) -> int | None:
        issued = self.tokens.get(token)
        if issued is None:
            return 40001
        if token in self._expired or self.clock() - issued >= TOKEN_TTL:
            return 42001
        return None

    def _check_token(self, request: web.Request) -> None:
        token = request.query.get("access_token")
        if not token:
            raise _Failure(41001)
        error = self._token_error(token)
        if error is not None:
            raise _Failure(error)

    async def _token(self, request: web.Request) -> dict[str, Any]:
        query = request.query
        if query.get("grant_type") != "client_credential":
            raise _Failure(40002)
        if query.get("appid") != self.app_id:
            raise _Failure(40013)
        if query.get("secret") != self.app_secret:
            raise _Failure(40125)
        self.token_requests += 1
        token = secrets.token_urlsafe(96)
        self.tokens[token] = self.clock()
        return {"access_token": token, "expires_in": TOKEN_TTL}

    async def _custom_send(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        body = _parse_body(raw)
        window = self._custom_window(body)
        if body.get("msgtype") != "text":
            raise _Failure(40008)
        text = body.get("text")
        content = text.get("content") if isinstance(text, dict) else None
        if not isinstance(content, str) or not content:
            raise _Failure(44004)
        if len(content.encode()) > MAX_TEXT_BYTES:
            raise _Failure(45002)
        self._custom(body, window, content)
        self.sent.append(body)
        self.raw_sent.append(raw)
        return {}

    async def _template(self, request: web.Request) -> dict[str, Any]:
        return self._template_send(_parse_body(await request.read()))

    async def _subscribe(self, request: web.Request) -> dict[str, Any]:
        return self._bizsend(_parse_body(await request.read()))

    async def _mass(self, request: web.Request) -> dict[str, Any]:
        return self._mass_send(_parse_body(await request.read()))

    async def _menu_create(self, request: web.Request) -> dict[str, Any]:
        body = _parse_body(await request.read())
        buttons = body.get("button")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS:
            raise _Failure(40016)
        for button in buttons:
            if not isinstance(button, dict):
                raise _Failure(40017)
            _check_name(button, MAX_BUTTON_NAME, 40018)
            subs = button.get("sub_button")
            if subs:
                if not isinstance(subs, list) or len(subs) > MAX_SUB_BUTTONS:
                    raise _Failure(40023)
                for sub in subs:
                    if not isinstance(sub, dict) or sub.get("type") not in BUTTON_TYPES:
                        raise _Failure(40024)
                    _check_name(sub, MAX_SUB_BUTTON_NAME, 40025)
            elif button.get("type") not in BUTTON_TYPES:
                raise _Failure(40017)
        self.menu = body
        return {}

    async def _qrcode_create(self, request: web.Request) -> dict[str, Any]:
        body = _parse_body(await request.read())
        action = body.get("action_name")
        info = body.get("action_info")
        scene = info.get("scene") if isinstance(info, dict) else None
        if action not in QR_ACTIONS or not isinstance(scene, dict):
            raise _Failure(40097)
        if action.endswith("STR_SCENE"):
            value = scene.get("scene_str")
            if not isinstance(value, str) or not 1 <= len(value) <= MAX_SCENE_STR:
                raise _Failure(40097)
        else:
            number = scene.get("scene_id")
            limit = MAX_LIMIT_SCENE_ID if action == "QR_LIMIT_SCENE" else 2**32 - 1
            if not isinstance(number, int) or not 1 <= number <= limit:
                raise _Failure(40097)
        self.qr_codes.append(body)
        if action.endswith("STR_SCENE"):
            self.qr_scenes.append(scene["scene_str"])
        ticket = "gQ" + secrets.token_urlsafe(32)  # WeChat's tickets start so
        answer: dict[str, Any] = {"ticket": ticket, "url": f"http://weixin.qq.com/q/{ticket[:22]}"}
        if not action.startswith("QR_LIMIT"):
            answer["expire_seconds"] = int(body.get("expire_seconds", 60))
        return answer


#: qrcode/create: permanent codes take a scene_str of 1..64 characters (or a scene_id 1..100000).
QR_ACTIONS = frozenset({"QR_SCENE", "QR_STR_SCENE", "QR_LIMIT_SCENE", "QR_LIMIT_STR_SCENE"})
MAX_SCENE_STR = 64
MAX_LIMIT_SCENE_ID = 100_000


def _check_name(button: dict[str, Any], limit: int, errcode: int) -> None:
    name = button.get("name")
    if not isinstance(name, str) or not name or len(name.encode()) > limit:
        raise _Failure(errcode)


def _parse_body(raw: bytes) -> dict[str, Any]:
    """Parses like WeChat displays: a \\uXXXX escape stays six literal characters, not a code point."""
    try:
        text = raw.decode()
        if "\\u" in text:  # escapes are rare: most bodies skip the substitution
            text = _UNICODE_ESCAPE.sub(lambda m: m.group(1) + "\\\\u", text)
        body = json.loads(text)
    except ValueError:
        raise _Failure(47001) from None
    if not isinstance(body, dict):
        raise _Failure(47001)
    return body


def _json(data: dict[str, Any], status: int = 200) -> web.Response:
    # The real API labels its JSON "application/json; encoding=utf-8" (sic): clients must not be picky.
    return web.Response(
        body=json.dumps(data, ensure_ascii=False).encode(),
        status=status,
        headers={"Content-Type": "application/json; encoding=utf-8"},
    )


def _response(errcode: int, status: int = 200) -> web.Response:
    return _json({"errcode": errcode, "errmsg": ERRMSGS.get(errcode, "error")}, status)
