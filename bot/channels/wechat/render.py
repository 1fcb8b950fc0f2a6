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


#: The label of the next-page line a paged reply ends with; tapping it sends the first command word.
MORE_LABEL = "更多"


def reply_to_text(reply: Reply) -> str:
    """The text the user reads: the rendered body, then one tappable line per button (and 「更多」).

    The 2,048 bytes are budgeted: the buttons always fit whole (a cut link would show raw markup
    or send a wrong payload), and the body is shortened to what is left.
    """
    lines = [_button(i, b) for i, b in enumerate(reply.buttons, start=1)]
    if reply.more:
        lines.append(_button(len(lines) + 1, Button(MORE_LABEL, payload=MORE_LABEL)))
    links = "\n".join(lines)
    if not reply.text:
        return truncate_utf8(links, MAX_TEXT_BYTES)
    if not links:
        return truncate_utf8(reply.text, MAX_TEXT_BYTES)
    room = MAX_TEXT_BYTES - len(links.encode()) - 1
    return f"{truncate_utf8(reply.text, max(room, 0))}\n{links}" if room > 3 else truncate_utf8(links, MAX_TEXT_BYTES)


def truncate_utf8(text: str, limit: int) -> str:
    """At most ``limit`` bytes of UTF-8, cut on a character boundary and marked with "…" when cut."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: max(limit - 3, 0)].decode(errors="ignore") + "…"
