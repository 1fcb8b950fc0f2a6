"""Memory of hostile callbacks: the peak a full 64 KiB body costs while it is read and refused.

``python -m bench.hardening`` builds documents of exactly ``LONGTUAN_MAX_BODY_BYTES`` (64 KiB)
that WeChat never sends (deep nesting, thousands of elements, attributes, markup inside a CDATA
section, a long text) and measures with tracemalloc what parsing them costs above the body
itself: plain mode (the body is the document) and safe mode (the body is the envelope, the
document its decrypted ciphertext). Pure CPU and memory: no database, no Redis, no server. The
last line is one JSON object: ``peak_kib`` (the worst document), ``budget_kib`` and ``documents``.
"""

from __future__ import annotations

import json
import sys
import tracemalloc
from collections.abc import Callable

from bot.channels.wechat.crypto import SafeMode, sign
from bot.channels.wechat.parse import parse_xml, to_inbound
from bot.errors import BadPayload

BODY = 64 * 1024
#: What a full body may cost on top of itself: "a few hundred KB".
BUDGET_KIB = 400
TOKEN, AES_KEY, APP_ID = "bench-token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx-bench"
HEAD = (
    "<xml><ToUserName><![CDATA[gh_longtuan]]></ToUserName><FromUserName><![CDATA[o-bench]]></FromUserName>"
    "<CreateTime>1718158802</CreateTime><MsgType><![CDATA[text]]></MsgType>"
)


def _repeat(
    head: str, unit: Callable[[int], str], tail: str, size: int, closing: Callable[[int], str] | None = None
) -> str:
    """``head``, then ``unit(0)``, ``unit(1)``… (each closed by ``closing(i)`` in reverse order
    after them), then ``tail``: as many units as fit in ``size`` bytes of UTF-8."""
    opened: list[str] = []
    closed: list[str] = []
    used = len((head + tail).encode())
    i = 0
    while True:
        piece, end = unit(i), closing(i) if closing else ""
        cost = len((piece + end).encode())
        if used + cost > size:
            break
        opened.append(piece)
        closed.append(end)
        used += cost
        i += 1
    return head + "".join(opened) + "".join(reversed(closed)) + tail


def documents(size: int) -> dict[str, str]:
    """The hostile documents, each at most ``size`` bytes of UTF-8."""
    end = "</xml>"
    cdata = HEAD + "<Content><![CDATA["
    return {
        "nested, one name": _repeat("<xml>", lambda i: "<a>", end, size, lambda i: "</a>"),
        "nested, distinct names": _repeat("<xml>", lambda i: f"<n{i}>", end, size, lambda i: f"</n{i}>"),
        "flat, one name repeated": _repeat(HEAD, lambda i: "<a/>", end, size),
        "flat, distinct names": _repeat(HEAD, lambda i: f"<f{i}/>", end, size),
        "leaves with text": _repeat(HEAD, lambda i: f"<t{i}>x</t{i}>", end, size),
        "attributes": _repeat("<xml><a ", lambda i: f'b{i}="" ', "/>" + end, size),
        "markup inside CDATA": _repeat(cdata, lambda i: "<a>", "]]></Content></xml>", size),
        "a long text": _repeat(cdata, lambda i: "长", "]]></Content><MsgId>1</MsgId></xml>", size),
        "entity references": _repeat(HEAD + "<Content>", lambda i: "&lt;", "</Content></xml>", size),
        "comments": _repeat(HEAD, lambda i: "<!---->", end, size),
        "one long comment": _repeat(HEAD + "<!--", lambda i: "x", "-->" + end, size),
    }


def plain(doc: str) -> Callable[[], object]:
    body = doc.encode()
    return lambda: to_inbound(parse_xml(body))


def sealed(doc: str) -> Callable[[], object]:
    """The safe-mode path: parse the envelope, check the signature, decrypt, parse the document."""
    safe = SafeMode(TOKEN, AES_KEY, APP_ID)
    encrypted = safe.ciphertext(doc)
    timestamp, nonce = "1718158802", "1320562132"
    signature = sign(TOKEN, timestamp, nonce, encrypted)
    body = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()
    return lambda: to_inbound(parse_xml(safe.decrypt(parse_xml(body)["Encrypt"], signature, timestamp, nonce)))


def peak(work: Callable[[], object]) -> tuple[int, str]:
    """Peak bytes traced while ``work`` runs (beyond what existed before), and how it ended."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        work()
        outcome = "accepted"
    except BadPayload as exc:
        outcome = exc.reason
    finally:
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return top - base, outcome


def main() -> int:
    docs = documents(BODY)
    # Safe mode: the ciphertext is base64 (4/3) of the document plus 40 bytes of framing, so the
    # document inside a 64 KiB envelope is about 48 KiB.
    inner = documents(BODY * 3 // 4 - 200)
    rows: list[tuple[str, str, int, int, str]] = []
    for name, doc in docs.items():
        rows.append((name, "plain", len(doc.encode()), *peak(plain(doc))))
    for name, doc in inner.items():
        rows.append((name, "safe", len(doc.encode()), *peak(sealed(doc))))
    print(f"{'document':<26} {'mode':<6} {'bytes':>7} {'peak KiB':>9}  outcome")
    for name, mode, size, top, outcome in rows:
        print(f"{name:<26} {mode:<6} {size:>7} {top / 1024:>9.0f}  {outcome}")
    worst = max(top for *_, top, _ in rows)
    print(f"worst: {worst / 1024:.0f} KiB (budget {BUDGET_KIB} KiB)")
    result = {
        "peak_kib": round(worst / 1024),
        "budget_kib": BUDGET_KIB,
        "documents": {f"{name} ({mode})": round(top / 1024) for name, mode, _, top, _ in rows},
    }
    print(json.dumps(result, ensure_ascii=False))
    return 0 if worst <= BUDGET_KIB * 1024 else 1


if __name__ == "__main__":
    sys.exit(main())
