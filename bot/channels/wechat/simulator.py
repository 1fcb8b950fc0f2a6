"""A WeChat server stand-in: builds real-format XML, signs (and encrypts) it, POSTs it to /wechat.

Used by ``longtuan chat``, the tests and the benchmark, so all three drive the real HTTP entry
exactly as the platform does.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from bot.channels.wechat.crypto import SafeMode, cdata_safe, sign
from bot.channels.wechat.parse import parse_xml

_msg_ids = itertools.count(24_000_000_000_000_000 + secrets.randbelow(10**15))


def next_msg_id() -> str:
    """A fresh MsgId in WeChat's real range (above 2**53, so floats would corrupt it)."""
    return str(next(_msg_ids))


def message_xml(fields: dict[str, str | int]) -> str:
    parts = []
    for name, value in fields.items():
        parts.append(
            f"<{name}>{value}</{name}>"
            if isinstance(value, int)
            else f"<{name}><![CDATA[{cdata_safe(value)}]]></{name}>"
        )
    return "<xml>" + "".join(parts) + "</xml>"


def text_xml(
    user: str, content: str, *, account: str = "gh_longtuan", msg_id: str | None = None, at: int | None = None
) -> str:
    return message_xml(
        {
            "ToUserName": account,
            "FromUserName": user,
            "CreateTime": at or int(time.time()),
            "MsgType": "text",
            "Content": content,
            "MsgId": int(msg_id or next_msg_id()),
        }
    )


def location_xml(
    user: str,
    latitude: float,
    longitude: float,
    label: str = "",
    *,
    account: str = "gh_longtuan",
    at: int | None = None,
    msg_id: str | None = None,
) -> str:
    """A location message (the chat box's 「位置」) as WeChat sends it: the coordinates bare, not in CDATA."""
    return (
        f"<xml><ToUserName><![CDATA[{cdata_safe(account)}]]></ToUserName>"
        f"<FromUserName><![CDATA[{cdata_safe(user)}]]></FromUserName><CreateTime>{at or int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[location]]></MsgType><Location_X>{latitude}</Location_X>"
        f"<Location_Y>{longitude}</Location_Y><Scale>15</Scale><Label><![CDATA[{cdata_safe(label)}]]></Label>"
        f"<MsgId>{msg_id or next_msg_id()}</MsgId></xml>"
    )


def event_xml(
    user: str,
    event: str,
    key: str | None = None,
    *,
    account: str = "gh_longtuan",
    at: int | None = None,
    fields: dict[str, str] | None = None,
) -> str:
    xml_fields: dict[str, str | int] = {
        "ToUserName": account,
        "FromUserName": user,
        "CreateTime": at or int(time.time()),
        "MsgType": "event",
        "Event": event,
    }
    if key is not None:
        xml_fields["EventKey"] = key
    xml_fields.update(fields or {})
    return message_xml(xml_fields)


@dataclass(slots=True)
class Answer:
    status: int
    body: str
    #: The reply's fields (decrypted in safe mode); empty for "success" and refusals.
    fields: dict[str, str]

    @property
    def text(self) -> str:
        return self.fields.get("Content", "")


class WeChatSimulator:
    """Signs like WeChat. ``mode``: "plain", "safe" (encrypted only) or "compat" (both)."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        url: str,
        token: str,
        *,
        app_id: str = "",
        aes_key: str | None = None,
        mode: str = "plain",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.http, self.url, self.token, self.mode, self.clock = http, url, token, mode, clock
        self.safe = SafeMode(token, aes_key, app_id) if aes_key else None

    def signed(
        self, xml: str, *, timestamp: str | None = None, nonce: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """The query string and body WeChat would send for ``xml``."""
        timestamp = timestamp or str(int(self.clock()))
        nonce = nonce or str(secrets.randbelow(10**10))
        query = {"signature": sign(self.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
        if self.mode == "plain":
            return query, xml.encode()
        assert self.safe is not None, "safe and compat modes need the EncodingAESKey"
        envelope = parse_xml(self.safe.encrypt(xml, timestamp, nonce))
        query.update(encrypt_type="aes", msg_signature=envelope["MsgSignature"])
        if self.mode == "safe":
            inner = parse_xml(xml)
            body = message_xml({"ToUserName": inner.get("ToUserName", ""), "Encrypt": envelope["Encrypt"]})
        else:  # compatible mode: the plain fields and the ciphertext side by side
            body = xml.replace("</xml>", f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>")
        return query, body.encode()

    async def post_raw(self, query: dict[str, str], body: bytes) -> Answer:
        async with self.http.post(self.url, params=query, data=body, headers={"Content-Type": "text/xml"}) as resp:
            text = await resp.text()
            return Answer(resp.status, text, self.read_reply(text) if resp.status == 200 else {})

    async def post(self, xml: str) -> Answer:
        query, body = self.signed(xml)
        return await self.post_raw(query, body)

    def read_reply(self, text: str) -> dict[str, str]:
        if not text.startswith("<xml>"):
            return {}
        fields = parse_xml(text)
        if "Encrypt" in fields and self.safe is not None:
            # Check the reply's signature as WeChat does, then decrypt.
            fields = parse_xml(
                self.safe.decrypt(fields["Encrypt"], fields.get("MsgSignature"), fields["TimeStamp"], fields["Nonce"])
            )
        return fields
