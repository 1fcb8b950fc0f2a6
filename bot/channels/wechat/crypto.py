"""WeChat callback security: signatures (constant-time), replay window, AES safe mode.

wechatpy provides the signer and the AES framing (PrpCrypto); this module fixes what it gets
wrong for a server: its signature checks compare with ``!=`` (timing leak), and its decrypt lets
any garbage through as an arbitrary exception, which we turn into one ``BadPayload``. The
signature itself is computed here (same algorithm as wechatpy's WeChatSigner, a test holds them
equal) because WeChatSigner's per-part conversions cost more than the SHA1.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

from wechatpy.crypto import PrpCrypto
from wechatpy.exceptions import InvalidAppIdException

from bot.errors import BadPayload, BadSignature, StaleRequest


def sign(*parts: str) -> str:
    """SHA1 over the sorted, concatenated parts: WeChat's callback signature and msg_signature.

    What wechatpy's WeChatSigner computes (a test holds them equal), without its per-part
    conversions: signing runs three times per safe-mode message. Sorting str by code point is
    sorting their UTF-8 bytes, so the order is the same.
    """
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def check_signature(expected_parts: tuple[str, ...], given: str | None) -> None:
    if not given or not hmac.compare_digest(sign(*expected_parts).encode(), given.encode()):
        raise BadSignature("signature mismatch" if given else "signature missing")


def check_timestamp(timestamp: str | None, window: int, now: Callable[[], float] = time.time) -> int:
    """Parse the timestamp; with a window > 0, refuse one outside ``now ± window``."""
    try:
        ts = int(timestamp or "")
    except ValueError:
        raise BadSignature("timestamp missing or not a number") from None
    if window and abs(now() - ts) > window:
        raise StaleRequest(f"timestamp {ts} outside the {window}s window")
    return ts


class _PrpCrypto(PrpCrypto):  # type: ignore[misc]  # wechatpy ships no types
    def get_random_string(self) -> str:
        # The 16 random bytes that open each encrypted reply. wechatpy draws them with
        # random.sample: not a CSPRNG, and 30 us a reply in the profile. 16 hex digits from
        # the OS generator are as good a prefix for WeChat and cost 1 us.
        return secrets.token_hex(8)


class SafeMode:
    """AES-256-CBC framing of safe (加密) and compatible (兼容) mode, for one app id."""

    def __init__(self, token: str, encoding_aes_key: str, app_id: str) -> None:
        self.token = token
        self.app_id = app_id
        self._crypto = _PrpCrypto(base64.b64decode(encoding_aes_key + "="))

    def decrypt(self, encrypted: str, msg_signature: str | None, timestamp: str, nonce: str) -> str:
        check_signature((self.token, timestamp, nonce, encrypted), msg_signature)
        try:
            return str(self._crypto.decrypt(encrypted, self.app_id))
        except InvalidAppIdException:
            raise BadPayload("encrypted for another app id") from None
        except Exception as exc:  # noqa: BLE001 - any failure inside the framing is a bad body
            raise BadPayload(f"cannot decrypt: {type(exc).__name__}") from None

    def encrypt(self, xml: str, timestamp: str, nonce: str) -> str:
        encrypted = self._crypto.encrypt(xml, self.app_id).decode()
        signature = sign(self.token, timestamp, nonce, encrypted)
        return (
            f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{cdata_safe(nonce)}]]></Nonce></xml>"
        )


def cdata_safe(value: str) -> str:
    """Make ``value`` safe inside one CDATA section: split any ``]]>`` across two sections.

    wechatpy 1.8 pastes content into ``<![CDATA[...]]>`` as is, so a reply quoting "]]>" would
    end the section early and break (or inject into) the reply XML.
    """
    return value.replace("]]>", "]]]]><![CDATA[>")
