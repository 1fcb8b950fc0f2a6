"""The WeChat callback endpoint: verify, decrypt, parse, hand to the pipeline, render, encrypt.

Refusals (bot.errors.RequestRefused) are answered with their HTTP status, logged once with
their reason and counted; nothing behind a refusal reaches a handler. Everything that passed the
checks is answered 200 within the deadline, with a passive reply or the platform's ``success``.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import time
from collections.abc import Callable

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from bot.channels.wechat.crypto import SafeMode, check_signature, check_timestamp
from bot.channels.wechat.parse import parse_xml, render_text, to_inbound
from bot.channels.wechat.receipts import receipt_of
from bot.channels.wechat.render import reply_to_text
from bot.channels.wechat.validate import decoded, query_values
from bot.errors import BadPayload, BodyTooLarge, ReplayedRequest, RequestRefused, Unavailable
from bot.gateway.pipeline import Pipeline
from bot.logs import request_id
from bot.metrics import Metrics
from bot.model import Inbound, Kind, Reply
from bot.outbound import Ledger, LogLedger, Receipt
from bot.session.base import Store
from bot.settings import Settings

log = logging.getLogger("longtuan.wechat")

#: The body WeChat expects when there is nothing to say (an empty body works too, but
#: "success" is what the documentation asks for and what stops the retries unambiguously).
SUCCESS = "success"
PLATFORM_DEADLINE = 5.0

_ids = itertools.count(1)

#: Response headers made once: aiohttp otherwise builds the Content-Type from parts per response.
_XML = CIMultiDictProxy(CIMultiDict({"Content-Type": "application/xml; charset=utf-8"}))
_TEXT = CIMultiDictProxy(CIMultiDict({"Content-Type": "text/plain; charset=utf-8"}))
_SUCCESS_BODY = SUCCESS.encode()


class _Responder:
    """The pipeline's port back to WeChat for one delivery: renders the neutral reply as a passive
    reply (encrypted in safe mode) or ``success``, and writes it at once; the pipeline goes on to
    store the result (and send a late reply) after the platform has its answer."""

    __slots__ = ("encrypted", "msg", "nonce", "request", "response", "started", "webhook")

    def __init__(
        self, webhook: WeChatWebhook, request: web.Request, msg: Inbound, encrypted: bool, nonce: str, started: float
    ) -> None:
        self.webhook = webhook
        self.request = request
        self.msg = msg
        self.encrypted = encrypted
        self.nonce = nonce
        self.started = started
        self.response: web.Response | None = None

    async def answer(self, reply: Reply | None, at: int, status: str) -> None:
        hook = self.webhook
        if reply is not None and not reply.is_empty:
            text = render_text(self.msg.user_id, self.msg.bot_id, at, reply_to_text(reply))
            if self.encrypted and hook.safe is not None:
                text = hook.safe.encrypt(text, str(int(hook.clock())), self.nonce)
            response = web.Response(body=text.encode(), headers=_XML)
        else:
            response = web.Response(body=_SUCCESS_BODY, headers=_TEXT)
        self.response = response
        metrics = hook.metrics
        metrics.child(metrics.requests, "wechat", status).inc()
        left = PLATFORM_DEADLINE - (time.monotonic() - self.started)
        metrics.child(metrics.deadline_left, "wechat").observe(max(0.0, left))
        await response.prepare(self.request)
        await response.write_eof()


def _envelope(body: bytes) -> str:
    """The Encrypt text of a safe-mode body ("" when absent)."""
    return parse_xml(body).get("Encrypt", "")


def _message(fields: dict[str, str]) -> Inbound | Receipt:
    """The neutral message of a callback, or the delivery receipt it carries."""
    inbound = to_inbound(fields)
    receipt = receipt_of(fields, inbound.created_at)
    return receipt if receipt is not None else inbound


def next_request_id() -> str:
    """Process id + a counter: unique across workers, and far cheaper than a uuid4 per message."""
    return f"{_pid:x}-{next(_ids):x}"


def _forked() -> None:
    global _pid
    _pid = os.getpid()


#: This process's id, kept (a system call per message otherwise) and renewed in a forked worker.
_pid = os.getpid()
os.register_at_fork(after_in_child=_forked)


class WeChatWebhook:
    def __init__(
        self,
        settings: Settings,
        pipeline: Pipeline,
        store: Store,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        ledger: Ledger | None = None,
    ) -> None:
        self.settings = settings
        self.ledger: Ledger = ledger or LogLedger()
        self.pipeline = pipeline
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self.token = settings.wechat_token.get_secret_value()
        aes = settings.wechat_aes_key
        self.safe = SafeMode(self.token, aes.get_secret_value(), settings.wechat_app_id) if aes else None

    def _refuse(self, exc: RequestRefused) -> web.Response:
        self.metrics.refusals.labels("wechat", exc.reason).inc()
        self.metrics.requests.labels("wechat", "refused").inc()
        log.warning("request refused", extra={"reason": exc.reason, "detail": exc.detail})
        return web.Response(status=exc.status, text=exc.reason)

    def _check_query(self, request: web.Request) -> tuple[str, str]:
        q = request.query
        # Shapes first (400, before any work: the nonce is echoed into the encrypted reply), then
        # the signature: a stale but forged request is reported as forged.
        timestamp, nonce = query_values(q)
        check_signature((self.token, timestamp, nonce), q.get("signature"))
        check_timestamp(timestamp, self.settings.wechat_replay_window, self.clock)
        return timestamp, nonce

    async def verify(self, request: web.Request) -> web.Response:
        """GET: the URL check of the WeChat console; echo ``echostr`` when the signature holds."""
        request_id.set(request.headers.get("X-Request-Id") or next_request_id())
        try:
            self._check_query(request)
        except RequestRefused as exc:
            return self._refuse(exc)
        self.metrics.requests.labels("wechat", "verified").inc()
        return web.Response(text=request.query.get("echostr", ""))

    async def receive(self, request: web.Request) -> web.StreamResponse:
        sent: list[_Responder] = []  # a bug after the answer went out must not answer twice
        try:
            return await self._receive(request, sent)
        except Exception:
            # A bug must not turn into a 5xx: WeChat would retry it three times and then show the
            # user "该公众号暂时无法提供服务". Answer "success", keep the traceback, count it.
            log.exception("unexpected error in the webhook")
            self.metrics.requests.labels("wechat", "error").inc()
            return (sent[0].response if sent else None) or web.Response(text=SUCCESS)

    async def _receive(self, request: web.Request, sent: list[_Responder]) -> web.StreamResponse:
        started = time.monotonic()
        request_id.set(request.headers.get("X-Request-Id") or next_request_id())
        try:
            timestamp, nonce = self._check_query(request)
            body = await self._read(request)
            encrypted = request.query.get("encrypt_type", "raw").lower() == "aes"
            msg = await self._inbound(request, body, encrypted, timestamp, nonce)
        except RequestRefused as exc:
            return self._refuse(exc)

        if isinstance(msg, Receipt):
            # A report about earlier sends, not a message: to the delivery ledger, nothing to answer.
            try:
                await self.ledger.record(msg)
            except Unavailable as exc:
                # Nobody waits for this answer, and the platform sends it again (three times) when
                # it gets no "success": a 503 keeps the receipt instead of acknowledging it unrecorded.
                log.warning("receipt not recorded, the platform will send it again", extra={"error": str(exc)})
                self.metrics.requests.labels("wechat", "receipt_retry").inc()
                return web.Response(status=503, text="busy")
            self.metrics.requests.labels("wechat", "receipt").inc()
            return web.Response(text=SUCCESS)
        if msg.kind is Kind.UNKNOWN:
            # New platform types appear without notice; answering "success" stops the retries.
            self.metrics.unknown.labels(msg.raw_type[:40] or "?").inc()
            self.metrics.requests.labels("wechat", "unknown").inc()
            log.info("unknown message type", extra={"type": msg.raw_type[:40]})
            return web.Response(text=SUCCESS)

        responder = _Responder(self, request, msg, encrypted, nonce, started)
        sent.append(responder)
        deadline = started + self.settings.wechat_reply_deadline
        outcome = await self.pipeline.handle(msg, responder, deadline, request_id.get())
        if log.isEnabledFor(logging.DEBUG):  # the extra dict is built for every message otherwise
            log.debug("answered", extra={"kind": msg.kind.value, "status": outcome.status, "route": outcome.route})
        # Already sent: aiohttp finds it finished and writes nothing more. (The pipeline answers
        # every delivery it returns from; "success" only guards against a change that would not.)
        return responder.response or web.Response(text=SUCCESS)

    async def _read(self, request: web.Request) -> bytes:
        limit = self.settings.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise BodyTooLarge(f"{request.content_length} bytes")
        try:
            # The app's client_max_size is the same limit: a chunked body is cut off there.
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise BodyTooLarge(f"over {limit} bytes") from None
        except (ConnectionResetError, web.RequestPayloadError) as exc:
            # The client hung up or broke the framing mid-body: its error, no traceback of ours.
            raise BadPayload(f"body cut short: {type(exc).__name__}") from None
        body = decoded(body, request.headers.get("Content-Encoding", ""), limit)
        if not body:
            raise BadPayload("empty body")
        return body

    async def _inbound(
        self, request: web.Request, body: bytes, encrypted: bool, timestamp: str, nonce: str
    ) -> Inbound | Receipt:
        if encrypted:
            if self.safe is None:
                raise BadPayload("encrypted message but no LONGTUAN_WECHAT_AES_KEY configured")
            encrypted_text = _envelope(body)
            if not encrypted_text:
                raise BadPayload("Encrypt element missing")
            # msg_signature covers the ciphertext: a replay with another body cannot pass it,
            # so safe mode needs no replay record of its own.
            inner = self.safe.decrypt(encrypted_text, request.query.get("msg_signature"), timestamp, nonce)
            return _message(parse_xml(inner))
        if self.safe is not None and not self.settings.wechat_allow_plain:
            raise BadPayload("plain message refused: safe mode is configured")
        # Plain mode signs only (token, timestamp, nonce), not the body: remember what body came
        # with this signature, and refuse another body under the same one inside the window.
        await self._check_replay(timestamp, nonce, body)
        return _message(parse_xml(body))

    async def _check_replay(self, timestamp: str, nonce: str, body: bytes) -> None:
        window = self.settings.wechat_replay_window
        if not window:
            return
        digest = hashlib.sha1(body).hexdigest()
        try:
            seen = await self.store.remember_once(f"r:{timestamp}:{nonce}", digest, window)
        except Unavailable:
            return  # the signature and the time window still hold; the body binding is lost for now
        if seen is not None and seen != digest:
            raise ReplayedRequest(f"nonce {nonce[:16]} reused with another body")
