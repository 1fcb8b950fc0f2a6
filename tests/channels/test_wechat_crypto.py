"""Signatures: the project's signer agrees with wechatpy's, including non-ASCII parts."""

from __future__ import annotations

import pytest
from wechatpy.utils import WeChatSigner

from bot.channels.wechat.crypto import check_signature, sign
from bot.errors import BadSignature


@pytest.mark.parametrize(
    "parts",
    [
        ("token", "1732608000", "nonce"),
        ("tok", "1", "2", "base64+/=Encrypt"),
        ("龙岗青年", "1732608000", "随机数", "Zz"),
        ("", "", ""),
    ],
)
def test_sign_matches_wechatpy(parts: tuple[str, ...]) -> None:
    signer = WeChatSigner()
    signer.add_data(*parts)
    assert sign(*parts) == signer.signature


def test_check_signature_refuses_missing_and_wrong() -> None:
    good = sign("t", "1", "n")
    check_signature(("t", "1", "n"), good)
    for given in (None, "", good[:-1] + ("0" if good[-1] != "0" else "1")):
        with pytest.raises(BadSignature):
            check_signature(("t", "1", "n"), given)


def test_reply_prefixes_are_fresh_in_a_forked_worker() -> None:
    """The prefixes come from OS bytes read ahead; a worker forked after a reply must not repeat
    the parent's next ones (two workers would open replies alike)."""
    import os

    from bot.channels.wechat import crypto

    first = crypto._prefix()
    assert len(first) == 16 and int(first, 16) >= 0
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: its next prefix, to the parent
        os.write(write, crypto._prefix())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64)
    os.close(read)
    parent = crypto._prefix()
    assert len(child) == 16 and child != parent
    assert len({crypto._prefix() for _ in range(2000)}) == 2000  # across pool refills too
