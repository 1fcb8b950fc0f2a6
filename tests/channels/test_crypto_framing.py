"""Safe mode's AES framing is wechatpy's, byte for byte, both ways; any garbage is one BadPayload.

``SafeMode`` frames the ciphertext itself (wechatpy's PrpCrypto built an AES context and padded
in Python on every call) and keeps its AES contexts from message to message: these tests hold it
to wechatpy's PrpCrypto and WeChatCrypto on random messages, padding edge cases included, in
long sequences on one ``SafeMode`` and after failures.
"""

from __future__ import annotations

import base64
import random
import secrets

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException

from bot.channels.wechat import crypto
from bot.channels.wechat.crypto import SafeMode, sign
from bot.channels.wechat.parse import parse_xml
from bot.errors import BadPayload
from tests.conftest import AES_KEY, APP_ID, TOKEN

KEY = base64.b64decode(AES_KEY + "=")
TIMESTAMP = "1718158802"
NONCE = "1320562132"
ALPHABET = "abcXYZ019 <>&]]\n\t\"'夜校怎么报名龙岗青年。，😀"


def message(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(length))


def framed_size(xml: str) -> int:
    """The plaintext before padding: 16 random bytes, the length, the XML, the app id."""
    return 16 + 4 + len(xml.encode()) + len(APP_ID)


def messages() -> list[str]:
    """Random lengths, and every padding from 1 to 32 bytes (a multiple of 32 gets a full block)."""
    rng = random.Random(1718158802)
    found = [message(rng, rng.randrange(0, 700)) for _ in range(150)]
    found += ["", "a", "夜校怎么报名", "<xml><Content><![CDATA[]]]]><![CDATA[>]]></Content></xml>"]
    pads: dict[int, list[str]] = {}
    while len(pads) < 32 or min(len(v) for v in pads.values()) < 2:
        xml = message(rng, rng.randrange(0, 100))
        pads.setdefault(32 - framed_size(xml) % 32, []).append(xml)
    for same_padding in pads.values():
        found += same_padding[:2]
    return found


MESSAGES = messages()


def our_decrypt(safe: SafeMode, encrypted: str) -> str:
    return safe.decrypt(encrypted, sign(TOKEN, TIMESTAMP, NONCE, encrypted), TIMESTAMP, NONCE)


def raw_decrypt(encrypted: str) -> bytes:
    """The padded plaintext, by a fresh AES-CBC context: the framing itself, unparsed."""
    decryptor = Cipher(algorithms.AES(KEY), modes.CBC(KEY[:16])).decryptor()
    return decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()


def test_every_padding_is_covered() -> None:
    assert {32 - framed_size(xml) % 32 for xml in MESSAGES} == set(range(1, 33))


def test_wechatpy_decrypts_what_we_encrypt() -> None:
    safe = SafeMode(TOKEN, AES_KEY, APP_ID)
    theirs = PrpCrypto(KEY)
    for xml in MESSAGES:
        encrypted = safe.ciphertext(xml)
        assert theirs.decrypt(encrypted, APP_ID) == xml


def test_we_decrypt_what_wechatpy_encrypts() -> None:
    safe = SafeMode(TOKEN, AES_KEY, APP_ID)
    theirs = PrpCrypto(KEY)
    for xml in MESSAGES:
        assert our_decrypt(safe, theirs.encrypt(xml, APP_ID).decode()) == xml


def test_framing_byte_for_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the same 16 random bytes, our ciphertext is wechatpy's."""
    prefix = "0123456789abcdef"

    class Fixed(PrpCrypto):  # type: ignore[misc]  # wechatpy ships no types
        def get_random_string(self) -> str:
            return prefix

    monkeypatch.setattr(crypto, "_prefix", prefix.encode)
    safe = SafeMode(TOKEN, AES_KEY, APP_ID)
    theirs = Fixed(KEY)
    for xml in MESSAGES:
        assert safe.ciphertext(xml) == theirs.encrypt(xml, APP_ID).decode()
        plain = raw_decrypt(safe.ciphertext(xml))
        padding = 32 - framed_size(xml) % 32
        assert len(plain) % 32 == 0
        assert plain.endswith(bytes((padding,)) * padding)
        assert plain[:20] == prefix.encode() + len(xml.encode()).to_bytes(4, "big")


def test_random_prefix_differs() -> None:
    safe = SafeMode(TOKEN, AES_KEY, APP_ID)
    first, second = raw_decrypt(safe.ciphertext("x")), raw_decrypt(safe.ciphertext("x"))
    assert first[:16] != second[:16]
    assert first[16:] == second[16:]
    assert all(chr(b) in "0123456789abcdef" for b in first[:16])


def test_envelopes_both_ways() -> None:
    """The whole safe-mode envelope, signature included, through wechatpy's WeChatCrypto."""
    safe = SafeMode(TOKEN, AES_KEY, APP_ID)
    theirs = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    for xml in MESSAGES[:60]:
        envelope = safe.encrypt(xml, TIMESTAMP, NONCE)
        signature = parse_xml(envelope)["MsgSignature"]
        assert theirs.decrypt_message(envelope, signature, TIMESTAMP, NONCE) == xml
        their_envelope = parse_xml(theirs.encrypt_message(xml, NONCE, TIMESTAMP))
        assert their_envelope["TimeStamp"] == TIMESTAMP
        assert safe.decrypt(their_envelope["Encrypt"], their_envelope["MsgSignature"], TIMESTAMP, NONCE) == xml


def test_contexts_carry_nothing_from_message_to_message() -> None:
    """One SafeMode, encrypting and decrypting in any order, garbage in between: every result
    is what a fresh wechatpy computes."""
    rng = random.Random(5)
    safe = SafeMode(TOKEN, AES_KEY, APP_ID)
    theirs = PrpCrypto(KEY)
    garbage = [
        "",
        "QUJD",
        base64.b64encode(bytes(17)).decode(),
        base64.b64encode(bytes(48)).decode(),
        base64.b64encode(secrets.token_bytes(80)).decode(),
    ]
    for _ in range(400):
        xml = rng.choice(MESSAGES)
        step = rng.random()
        if step < 0.4:
            assert theirs.decrypt(safe.ciphertext(xml), APP_ID) == xml
        elif step < 0.8:
            assert our_decrypt(safe, theirs.encrypt(xml, APP_ID).decode()) == xml
        else:
            with pytest.raises(BadPayload):
                our_decrypt(safe, rng.choice(garbage))


def encrypt_raw(plain: bytes) -> str:
    encryptor = Cipher(algorithms.AES(KEY), modes.CBC(KEY[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def garbage_plaintexts() -> list[bytes]:
    """Plaintexts that are framed wrong in every way: padding byte, length field, app id, UTF-8."""
    rng = random.Random(11)
    found: list[bytes] = []
    for _ in range(300):
        xml = message(rng, rng.randrange(0, 40)).encode()
        if rng.random() < 0.2:
            xml = xml[: rng.randrange(len(xml) + 1)] + b"\xff" + xml
        length = rng.choice([len(xml), len(xml), 0, len(xml) + rng.randrange(1, 40), 2**32 - 1])
        app_id = rng.choice([APP_ID.encode(), b"wx0000000000000000", b"", b"\xff\xfe", APP_ID.encode()[:-1]])
        plain = secrets.token_bytes(16) + length.to_bytes(4, "big") + xml + app_id
        padding = rng.choice([32 - len(plain) % 32, 32 - len(plain) % 32, 16 - len(plain) % 16])
        plain += bytes((padding,)) * padding
        if rng.random() < 0.3:  # the last byte anything at all, 0 and > 32 included
            plain = plain[:-1] + bytes((rng.randrange(256),))
        if rng.random() < 0.1:
            plain = plain[: 16 * rng.randrange(3)]
        found.append(plain)
    return found


def test_garbage_is_refused_as_wechatpy_refuses_it() -> None:
    """Where wechatpy returns, we return the same; where it raises, one BadPayload naming it."""
    safe = SafeMode(TOKEN, AES_KEY, APP_ID)
    theirs = PrpCrypto(KEY)
    cases = [encrypt_raw(plain) for plain in garbage_plaintexts()]
    cases += ["", "====", "not base64 at all!", "QUJD", "夜校", base64.b64encode(bytes(33)).decode()]
    outcomes = set()
    for encrypted in cases:
        try:
            expected = theirs.decrypt(encrypted, APP_ID)
        except InvalidAppIdException:
            expected = "BadPayload: encrypted for another app id"
        except Exception as exc:  # noqa: BLE001 - what wechatpy raises is what we name
            expected = f"BadPayload: cannot decrypt: {type(exc).__name__}"
        try:
            got = our_decrypt(safe, encrypted)
        except BadPayload as exc:
            got = f"BadPayload: {exc}"
        assert got == expected, encrypted
        outcomes.add(expected if expected.startswith("BadPayload") else "decrypted")
    assert outcomes >= {
        "decrypted",
        "BadPayload: encrypted for another app id",
        "BadPayload: cannot decrypt: error",  # struct.error: fewer than 4 bytes left for the length
        "BadPayload: cannot decrypt: UnicodeDecodeError",
        "BadPayload: cannot decrypt: IndexError",
        "BadPayload: cannot decrypt: ValueError",
        "BadPayload: cannot decrypt: Error",  # binascii.Error
    }


def test_another_app_id() -> None:
    theirs = SafeMode(TOKEN, AES_KEY, "wx9a8b7c6d5e4f3a21")
    with pytest.raises(BadPayload, match=r"^encrypted for another app id$"):
        our_decrypt(SafeMode(TOKEN, AES_KEY, APP_ID), theirs.ciphertext("<xml></xml>"))
