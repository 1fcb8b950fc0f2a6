"""Rendering a neutral Reply as WeChat text: shared by passive replies and customer-service sends."""

from __future__ import annotations

from urllib.parse import quote

from bot.model import Button, Reply

#: WeChat caps a text message at 2048 bytes of UTF-8 (passive replies and customer-service sends).
MAX_TEXT_BYTES = 2048


def _button(index: int, button: Button) -> str:
    if button.url:
        return f'<a href="{button.url}">{button.text}</a>'
    # weixin://bizmsgmenu links make a tappable line that sends ``msgmenucontent`` back as if typed.
    payload = quote(button.payload or button.text, safe="")
    return f'<a href="weixin://bizmsgmenu?msgmenucontent={payload}&msgmenuid={index}">{button.text}</a>'


def reply_to_text(reply: Reply) -> str:
    """The text the user reads: the rendered body, then one tappable line per button."""
    parts = [reply.text] if reply.text else []
    parts.extend(_button(i, b) for i, b in enumerate(reply.buttons, start=1))
    return truncate_utf8("\n".join(parts), MAX_TEXT_BYTES)


def truncate_utf8(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode(errors="ignore") + "…"
