"""Parsing WeChat XML into the neutral ``Inbound``; every message and event type of the platform.

One reader: expat, with the protections defusedxml applies: a DOCTYPE, an entity declaration or
an external entity is refused the moment expat meets it, before anything is expanded (billion
laughs, XXE). It is bounded while it reads, before anything is built: depth, element count,
name length and the size of one piece of markup (``TooComplex``). ``to_inbound`` then holds every
numeric field to its shape and range (``validate.check_fields``). (A regular-expression reader
of the flat layout saved about 7 us a message, under the 20 us that earns hand-written code.)
"""

from __future__ import annotations

from collections.abc import Callable
from xml.parsers import expat

from bot.channels.wechat.crypto import cdata_safe
from bot.channels.wechat.validate import check_fields
from bot.errors import BadPayload, TooComplex
from bot.model import Inbound, Kind, Location

CHANNEL = "wechat"

#: Plain message types (MsgType) and the kinds they become.
MESSAGES = {
    "text": Kind.TEXT,
    "image": Kind.IMAGE,
    "voice": Kind.VOICE,
    "video": Kind.VIDEO,
    "shortvideo": Kind.SHORTVIDEO,
    "location": Kind.LOCATION,
    "link": Kind.LINK,
}

#: Events (MsgType=event, Event=...) and the kinds they become. Names as WeChat sends them;
#: compared case-insensitively because the platform mixes "SCAN" and "subscribe".
EVENTS = {
    "subscribe": Kind.SUBSCRIBE,
    "unsubscribe": Kind.UNSUBSCRIBE,
    "scan": Kind.SCAN,
    "location": Kind.REPORT_LOCATION,
    "click": Kind.CLICK,
    "view": Kind.VIEW,
}

SCENE_PREFIX = "qrscene_"


def _forbidden(what: str) -> Callable[..., None]:
    def refuse(*_: object) -> None:
        raise BadPayload(f"forbidden XML construct: {what}")

    return refuse


_no_dtd = _forbidden("DOCTYPE")
_no_entity = _forbidden("entity declaration")


def _no_external(context: str, base: str | None, system_id: str | None, public_id: str | None) -> int:
    raise BadPayload("forbidden XML construct: external entity")


#: Elements whose text keeps its white space (what the user typed); others are trimmed.
_VERBATIM = frozenset({"Content"})

#: What no callback exceeds, enforced while parsing (a 42 KB document of nested elements cost
#: 36 MB before: every open element keeps its dotted path). The deepest callback, a mass send's
#: copyright check (xml > CopyrightCheckResult > ResultList > item > ArticleIdx), is 5 deep;
#: the largest, that same event, has about 30 elements.
MAX_DEPTH = 8
MAX_ELEMENTS = 256
#: Element names are WeChat's (the longest, NeedShowReprintSource, has 21 characters); a long one
#: would be copied into the dotted path of every element below it.
MAX_NAME = 64
#: expat builds a start tag's attributes only once the tag is complete: 7,000 of them in 64 KiB
#: cost 1.4 MB, expat's own tables half of it. So expat is fed a chunk at a time, and a piece of
#: markup (a tag, a comment) still incomplete after MAX_TOKEN bytes is refused before it is
#: built. Text and CDATA are reported as they come, whatever their length.
MAX_TOKEN = 4096
_CHUNK = 4096


def parse_xml(body: bytes | str) -> dict[str, str]:
    """The leaves under ``<xml>`` as a flat dict of text, nested ones under their dotted path.

    A repeated element is numbered from its second occurrence: a popup answering two templates
    gives "SubscribeMsgPopupEvent.List.TemplateId" and "SubscribeMsgPopupEvent.List#2.TemplateId".
    Element text is trimmed, except in ``_VERBATIM`` elements. Refuses with ``BadPayload``.
    """
    return _parse_expat(body)


def _parse_expat(body: bytes | str) -> dict[str, str]:
    """``parse_xml`` for any document: expat, with the DTD refused outright."""
    fields: dict[str, str] = {}
    text: list[str] = []
    #: per open element: its field name (dotted path below <xml>), whether it has child
    #: elements, and how often each child name has been seen
    names: list[str] = []
    has_child: list[bool] = []
    siblings: list[dict[str, int]] = []

    elements = 0

    def start(name: str, attrs: object) -> None:
        nonlocal elements
        elements += 1
        if elements > MAX_ELEMENTS:
            raise TooComplex(f"more than {MAX_ELEMENTS} elements")
        if len(names) >= MAX_DEPTH:
            raise TooComplex(f"nested deeper than {MAX_DEPTH}")
        if len(name) > MAX_NAME:
            raise TooComplex(f"an element name of {len(name)} characters")
        if not names:
            if name != "xml":
                raise BadPayload("root element is not <xml>")
            names.append("")
        else:
            has_child[-1] = True
            seen = siblings[-1]
            count = seen[name] = seen.get(name, 0) + 1
            parent = names[-1]
            own = name if count == 1 else f"{name}#{count}"
            names.append(f"{parent}.{own}" if parent else own)
        has_child.append(False)
        siblings.append({})
        text.clear()

    def end(name: str) -> None:
        field = names.pop()
        if not has_child.pop() and field:
            value = "".join(text)
            fields[field] = value if name in _VERBATIM else value.strip()
        text.clear()
        siblings.pop()

    if isinstance(body, str):
        # As expat parses a str: UTF-8, whatever a declaration says (and a lone surrogate raises
        # UnicodeEncodeError, as before: the gateway only parses decoded UTF-8).
        data = body.encode()
        parser = expat.ParserCreate("utf-8")
    else:
        data = body
        parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _no_dtd
    parser.EntityDeclHandler = _no_entity
    parser.UnparsedEntityDeclHandler = _no_entity
    parser.ExternalEntityRefHandler = _no_external
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text.append
    view = memoryview(data)
    try:
        for at in range(0, len(data), _CHUNK):
            fed = min(at + _CHUNK, len(data))
            parser.Parse(view[at:fed], False)
            # Outside a handler, CurrentByteIndex is where the markup not yet reported begins.
            if fed - parser.CurrentByteIndex > MAX_TOKEN:
                raise TooComplex(f"markup of over {MAX_TOKEN} bytes at byte {parser.CurrentByteIndex}")
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise BadPayload(f"not XML: {expat.ErrorString(exc.code)}") from None
    return fields


def _float(value: str | None) -> float:
    try:
        return float(value or "")
    except ValueError:
        raise BadPayload(f"not a number: {value!r}") from None


def to_inbound(fields: dict[str, str]) -> Inbound:
    """Build the neutral message. Unknown types become ``Kind.UNKNOWN`` (answered, logged)."""
    user = fields.get("FromUserName", "")
    if not user:
        raise BadPayload("FromUserName missing")
    check_fields(fields)  # every number below is then in its shape and range
    raw_type = fields.get("MsgType", "").lower()
    created = int(fields.get("CreateTime", "0"))
    # MsgId exceeds 2**53: it stays the exact digits it came as, never a float.
    msg = Inbound(
        channel=CHANNEL,
        user_id=user,
        bot_id=fields.get("ToUserName", ""),
        kind=Kind.UNKNOWN,
        created_at=created,
        msg_id=fields.get("MsgId") or None,
        raw_type=raw_type,
    )
    if raw_type == "event":
        event = fields.get("Event", "")
        msg.raw_type = f"event.{event.lower()}"
        msg.kind = EVENTS.get(event.lower(), Kind.UNKNOWN)
        msg.msg_id = None  # events are identified by user + time + event + key, not by MsgId
        _EVENT_FIELDS.get(msg.kind, _nothing)(msg, fields)
    else:
        msg.kind = MESSAGES.get(raw_type, Kind.UNKNOWN)
        _MESSAGE_FIELDS.get(msg.kind, _nothing)(msg, fields)
    return msg


def _nothing(msg: Inbound, fields: dict[str, str]) -> None:
    return None


def _text(msg: Inbound, f: dict[str, str]) -> None:
    msg.text = f.get("Content", "")


def _media(msg: Inbound, f: dict[str, str]) -> None:
    msg.media_id = f.get("MediaId", "")
    msg.url = f.get("PicUrl", "")
    if f.get("ThumbMediaId"):
        msg.extra["thumb_media_id"] = f["ThumbMediaId"]


def _voice(msg: Inbound, f: dict[str, str]) -> None:
    _media(msg, f)
    # Speech recognition, when the account has it on, arrives as Recognition: treat it as text.
    msg.text = f.get("Recognition", "").strip()
    msg.extra["format"] = f.get("Format", "")


def _location(msg: Inbound, f: dict[str, str]) -> None:
    msg.location = Location(
        _float(f.get("Location_X")),
        _float(f.get("Location_Y")),
        scale=int(_float(f.get("Scale") or "0")),
        label=f.get("Label", ""),
    )


def _link(msg: Inbound, f: dict[str, str]) -> None:
    msg.title, msg.url = f.get("Title", ""), f.get("Url", "")
    msg.text = f.get("Description", "")


def _subscribe(msg: Inbound, f: dict[str, str]) -> None:
    # A follow through a parametric QR code carries EventKey "qrscene_<scene>" and a Ticket.
    # wechatpy re-labels it "subscribe_scan"; it stays a subscribe here, with the scene as key.
    key = f.get("EventKey", "")
    msg.key = key[len(SCENE_PREFIX) :] if key.startswith(SCENE_PREFIX) else ""
    if f.get("Ticket"):
        msg.extra["ticket"] = f["Ticket"]


def _scan(msg: Inbound, f: dict[str, str]) -> None:
    msg.key = f.get("EventKey", "")
    if f.get("Ticket"):
        msg.extra["ticket"] = f["Ticket"]


def _report_location(msg: Inbound, f: dict[str, str]) -> None:
    msg.location = Location(
        _float(f.get("Latitude")), _float(f.get("Longitude")), precision=_float(f.get("Precision") or "0")
    )


def _key(msg: Inbound, f: dict[str, str]) -> None:
    msg.key = f.get("EventKey", "")
    if msg.kind is Kind.VIEW:
        msg.url = msg.key
        if f.get("MenuId"):
            msg.extra["menu_id"] = f["MenuId"]


_MESSAGE_FIELDS: dict[Kind, Callable[[Inbound, dict[str, str]], None]] = {
    Kind.TEXT: _text,
    Kind.IMAGE: _media,
    Kind.VOICE: _voice,
    Kind.VIDEO: _media,
    Kind.SHORTVIDEO: _media,
    Kind.LOCATION: _location,
    Kind.LINK: _link,
}
_EVENT_FIELDS: dict[Kind, Callable[[Inbound, dict[str, str]], None]] = {
    Kind.SUBSCRIBE: _subscribe,
    Kind.SCAN: _scan,
    Kind.REPORT_LOCATION: _report_location,
    Kind.CLICK: _key,
    Kind.VIEW: _key,
}


def render_text(to_user: str, from_user: str, created_at: int, content: str) -> str:
    """A passive text reply, every CDATA section escaped."""
    return (
        f"<xml><ToUserName><![CDATA[{cdata_safe(to_user)}]]></ToUserName>"
        f"<FromUserName><![CDATA[{cdata_safe(from_user)}]]></FromUserName>"
        f"<CreateTime>{created_at}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{cdata_safe(content)}]]></Content></xml>"
    )
