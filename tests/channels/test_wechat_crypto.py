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
