"""The WeChat server API client: access tokens, retries and errcode handling over aiohttp."""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from bot.channels.wechat.token import TokenStore

log = logging.getLogger(__name__)

#: The token was rejected: 40001 invalid/not latest, 40014 malformed, 42001 expired.
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
#: errcode -1 is WeChat's "system busy, please retry later".
BUSY_ERRCODE = -1
#: WeChat's token docs: refresh before the stated expiry, the old token stays valid ~5 minutes.
TOKEN_REFRESH_MARGIN = 300
MIN_TOKEN_TTL = 60

_TOKEN_PARAM = re.compile(r"(access_token=)[^&\s'\"]+")
_TIMEOUT = aiohttp.ClientTimeout(total=10)
_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


class WeChatAPIError(Exception):
    """WeChat answered with a non-zero errcode (or could not be reached: errcode -1)."""

    def __init__(self, errcode: int, errmsg: str, path: str = "") -> None:
        # All three go to Exception.args so the error survives pickling (process pools, queues).
        super().__init__(errcode, errmsg, path)
        self.errcode = errcode
        self.errmsg = errmsg
        self.path = path

    def __str__(self) -> str:
        where = f" on {self.path}" if self.path else ""
        return f"WeChat API error {self.errcode}{where}: {self.errmsg}"

    @property
    def retryable(self) -> bool:
        """Whether trying again later may succeed (system busy or the network failed)."""
        return self.errcode == BUSY_ERRCODE


class _Retryable(Exception):
    """One attempt failed in a way worth repeating; carries what to report if attempts run out."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(errmsg)
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatAPI:
    """Calls api.weixin.qq.com with a shared access token, refreshing it when WeChat rejects it."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        app_id: str,
        app_secret: str,
        tokens: TokenStore,
        *,
        retries: int = 3,
        backoff: float = 0.2,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._app_id = app_id
        self._secret = app_secret
        self._tokens = tokens
        self._retries = retries
        self._backoff = backoff
        self._clock = clock
        self._refreshing = asyncio.Lock()
        #: Wall-clock time this instance last fetched a token from WeChat (0 if never): for health checks.
        self.token_fetched_at = 0.0

    @property
    def tokens(self) -> TokenStore:
        return self._tokens

    def __repr__(self) -> str:
        return f"WeChatAPI(base_url={self._base!r}, app_id={self._app_id!r})"

    async def access_token(self) -> str:
        """The shared token, fetching a new one (by exactly one worker) when the cache is empty."""
        token = await self._tokens.get()
        if token:
            return token
        # One coroutine per process queues for the shared lock; the rest wake as soon as it is done
        # instead of each polling the store's lock in turn.
        async with self._refreshing:
            token = await self._tokens.get()
            if token:
                return token
            async with self._tokens.lock():
                # Whoever held the lock before us has probably just stored a fresh token.
                token = await self._tokens.get()
                if token:
                    return token
                return await self._fetch_token()

    async def _fetch_token(self) -> str:
        path = "/cgi-bin/token"
        params = {"grant_type": "client_credential", "appid": self._app_id, "secret": self._secret}
        data = await self._request("GET", path, params=params)
        self._raise_for_errcode(path, data)
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise WeChatAPIError(-1, "token response without access_token", path)
        expires_in = int(data.get("expires_in", 7200))
        await self._tokens.set(token, max(MIN_TOKEN_TTL, expires_in - TOKEN_REFRESH_MARGIN))
        self.token_fetched_at = self._clock()
        log.info("wechat access token refreshed; valid for %ss", expires_in)
        return token

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One authenticated call; returns the parsed body or raises WeChatAPIError."""
        refreshed = False
        while True:
            token = await self.access_token()
            data = await self._request(method, path, params={**(params or {}), "access_token": token}, body=json)
            errcode = _errcode(data)
            if errcode in TOKEN_ERRCODES and not refreshed:
                # Another worker may have replaced the token already; invalidate only ours.
                log.warning("wechat token rejected on %s: errcode=%s, refreshing", path, errcode)
                await self._tokens.invalidate(token)
                refreshed = True
                continue
            self._raise_for_errcode(path, data)
            return data

    async def send_custom_text(self, openid: str, text: str) -> None:
        """A customer-service text: allowed within 48 h of the user's last message, 20 per window."""
        body = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        await self.call("POST", "/cgi-bin/message/custom/send", json=body)

    async def create_menu(self, menu: dict[str, Any]) -> None:
        await self.call("POST", "/cgi-bin/menu/create", json=menu)

    async def create_qr_scene(self, scene: str) -> dict[str, Any]:
        """A permanent parametric QR code (QR_LIMIT_STR_SCENE, scene_str of 1 to 64 characters).

        Returns WeChat's answer: ``ticket`` (the image is showqrcode?ticket=…) and ``url`` (its content).
        A scan sends SCAN, or subscribe with ``qrscene_`` + the scene for someone not yet following.
        """
        body = {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": scene}}}
        return await self.call("POST", "/cgi-bin/qrcode/create", json=body)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str],
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One request with retries on system busy (-1) and network failures; other errcodes pass."""
        # WeChat shows \uXXXX escapes literally, so Chinese must travel as raw UTF-8.
        payload = None if body is None else jsonlib.dumps(body, ensure_ascii=False).encode()
        attempt = 0
        while True:
            try:
                data = await self._attempt(method, path, params, payload)
                if _errcode(data) != BUSY_ERRCODE:
                    return data
                failure = _Retryable(BUSY_ERRCODE, str(data.get("errmsg", "system busy")))
            except _Retryable as exc:
                failure = exc
            if attempt >= self._retries:
                log.error(
                    "wechat %s %s failed after %d attempts: errcode=%s errmsg=%s",
                    method,
                    path,
                    attempt + 1,
                    failure.errcode,
                    failure.errmsg,
                )
                raise WeChatAPIError(failure.errcode, failure.errmsg, path)
            log.warning(
                "wechat %s %s attempt %d failed, retrying: errcode=%s errmsg=%s",
                method,
                path,
                attempt + 1,
                failure.errcode,
                failure.errmsg,
            )
            await asyncio.sleep(self._backoff * 2**attempt)
            attempt += 1

    async def _attempt(
        self, method: str, path: str, params: Mapping[str, str], payload: bytes | None
    ) -> dict[str, Any]:
        headers = _JSON_HEADERS if payload is not None else None
        try:
            async with self._session.request(
                method,
                self._base + path,
                params=params,
                data=payload,
                headers=headers,
                timeout=_TIMEOUT,
            ) as resp:
                status = resp.status
                raw = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Some aiohttp errors carry the URL, whose query holds the secret or the token;
            # "from None" keeps that URL out of chained tracebacks too.
            detail = self._redact(str(exc))
            raise _Retryable(-1, f"network error: {type(exc).__name__}: {detail}") from None
        try:
            # Not resp.json(): WeChat's Content-Type varies (text/plain, "encoding=utf-8").
            data = jsonlib.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            # Proxies and load balancers answer with HTML (502, 504): treat as a network failure.
            raise _Retryable(-1, f"HTTP {status}: response is not a JSON object")
        if "errmsg" in data:
            data["errmsg"] = self._redact(str(data["errmsg"]))
        return data

    def _raise_for_errcode(self, path: str, data: Mapping[str, Any]) -> None:
        errcode = _errcode(data)
        if errcode == 0:
            return
        errmsg = str(data.get("errmsg", ""))
        log.warning("wechat call %s failed: errcode=%s errmsg=%s", path, errcode, errmsg)
        raise WeChatAPIError(errcode, errmsg, path)

    def _redact(self, text: str) -> str:
        """Errors echo requests back at times; neither the secret nor a token may reach a log."""
        if self._secret:
            text = text.replace(self._secret, "***")
        return _TOKEN_PARAM.sub(r"\1***", text)


def _errcode(data: Mapping[str, Any]) -> int:
    try:
        return int(data.get("errcode", 0))
    except (TypeError, ValueError):
        return -1
