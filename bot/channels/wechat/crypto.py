"""WeChat callback security: signatures (constant-time), replay window, AES safe mode.

wechatpy's versions of these get things wrong for a server: its signature checks compare with
``!=`` (timing leak), and its decrypt lets any garbage through as an arbitrary exception. So the
signature is computed here (same algorithm as wechatpy's WeChatSigner, a test holds them equal,
without WeChatSigner's per-part conversions that cost more than the SHA1), and so is the AES
framing (byte for byte wechatpy's PrpCrypto, which tests/channels/test_crypto_framing.py holds
both ways), which turns any failure into one ``BadPayload`` (a correctness reason: wechatpy's
PrpCrypto lets arbitrary exceptions through).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.channels.wechat.validate import epoch_seconds
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
    """Parse the timestamp (``BadTimestamp`` unless epoch seconds); with a window > 0, refuse one
    outside ``now ± window``."""
    ts = epoch_seconds(timestamp or "")
    if window and abs(now() - ts) > window:
        raise StaleRequest(f"timestamp {ts} outside the {window}s window")
    return ts


#: The XML's length in the plaintext: 4 bytes, network order.
_LENGTH = struct.Struct("!I")
#: WeChat pads the plaintext PKCS#7-style to a multiple of 32 bytes (not AES's 16): 1 to 32
#: bytes, each holding their count.
_BLOCK = 32
_PADDING = tuple(bytes((n,)) * n for n in range(_BLOCK + 1))


def _prefix() -> bytes:
    """The 16 random characters that open each encrypted reply: hex from the OS generator.

    wechatpy draws 16 letters with ``random.sample``: no CSPRNG, and 30 us a reply. The OS's bytes
    are read 4 KiB at a time (one system call per 512 replies, not one each); a forked worker
    starts with none of its parent's.
    """
    global _random, _used
    if _used + 8 > len(_random):
        _random, _used = os.urandom(4096), 0
    start = _used
    _used += 8
    return _random[start:_used].hex().encode()


def _forget_random() -> None:
    global _random, _used
    _random, _used = b"", 0


_random, _used = b"", 0
os.register_at_fork(after_in_child=_forget_random)


class SafeMode:
    """AES-256-CBC framing of safe (加密) and compatible (兼容) mode, for one app id.

    Ciphertext: base64 of AES-256-CBC (key: the decoded EncodingAESKey, IV: its first 16
    bytes) over 16 random bytes, the XML's length (4 bytes, network order), the XML (UTF-8),
    the app id, and the padding to 32 bytes.
    """

    def __init__(self, token: str, encoding_aes_key: str, app_id: str) -> None:
        self.token = token
        self.app_id = app_id
        self._app_id = app_id.encode()
        key = base64.b64decode(encoding_aes_key + "=")
        # A fresh context per message (about 2 us): a kept one saved too little to earn its code.
        self._cipher = Cipher(algorithms.AES(key), modes.CBC(key[:16]))

    def decrypt(self, encrypted: str, msg_signature: str | None, timestamp: str, nonce: str) -> str:
        check_signature((self.token, timestamp, nonce, encrypted), msg_signature)
        # What PrpCrypto.decrypt accepts, step by step (its base64 decoding skips what is not
        # base64, its padding is taken as the last byte says, unchecked), except that whatever
        # fails is one BadPayload.
        try:
            decryptor = self._cipher.decryptor()
            plain = decryptor.update(base64.b64decode(encrypted.encode())) + decryptor.finalize()
            content = plain[16 : -plain[-1]]
            (length,) = _LENGTH.unpack_from(content)
            xml = content[4 : 4 + length].decode()
            app_id = content[4 + length :].decode()
        except Exception as exc:  # noqa: BLE001 - any failure inside the framing is a bad body
            raise BadPayload(f"cannot decrypt: {type(exc).__name__}") from None
        if app_id != self.app_id:
            raise BadPayload("encrypted for another app id")
        return xml

    def ciphertext(self, xml: str) -> str:
        """The base64 ciphertext of ``xml`` framed for this app id: what goes into <Encrypt>."""
        text = xml.encode()
        size = 16 + 4 + len(text) + len(self._app_id)
        plain = b"".join(
            (
                _prefix(),
                _LENGTH.pack(len(text)),
                text,
                self._app_id,
                _PADDING[_BLOCK - size % _BLOCK],
            )
        )
        encryptor = self._cipher.encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def encrypt(self, xml: str, timestamp: str, nonce: str) -> str:
        encrypted = self.ciphertext(xml)
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
