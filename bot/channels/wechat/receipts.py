"""WeChat delivery receipts: template and mass-send job results, subscription-message events.

They arrive as events on the callback URL but are reports about earlier sends, not something a
user said: the webhook hands them to the delivery ledger port and answers ``success``.
"""

from __future__ import annotations

from bot.outbound import Receipt

CHANNEL = "wechat"

#: WeChat's event name (lower case) -> the receipt kind.
RECEIPTS = {
    "templatesendjobfinish": "template_sent",
    "masssendjobfinish": "mass_sent",
    "subscribe_msg_popup_event": "subscribe_msg_popup",
    "subscribe_msg_change_event": "subscribe_msg_change",
    "subscribe_msg_sent_event": "subscribe_msg_sent",
}
_SECTIONS = {
    "subscribe_msg_popup": "SubscribeMsgPopupEvent",
    "subscribe_msg_change": "SubscribeMsgChangeEvent",
    "subscribe_msg_sent": "SubscribeMsgSentEvent",
}
_JOB_FIELDS = ("MsgID", "Status", "TotalCount", "FilterCount", "SentCount", "ErrorCount")


def receipt_of(fields: dict[str, str], created_at: int) -> Receipt | None:
    """The receipt these callback fields carry, or None for a message or an ordinary event."""
    if fields.get("MsgType", "").lower() != "event":
        return None
    kind = RECEIPTS.get(fields.get("Event", "").lower())
    if kind is None:
        return None
    extra: dict[str, str] = {}
    if kind in ("template_sent", "mass_sent"):
        # MsgID (capital D) is the job's id, not a message id.
        extra = {name: fields[name] for name in _JOB_FIELDS if name in fields}
        ref = fields.get("MsgID", "")
    else:
        # One event may answer several templates (one <List> each): the first's fields keep their
        # names ("TemplateId"), the n-th's are numbered ("TemplateId#2").
        prefix = f"{_SECTIONS[kind]}.List"
        for name, value in fields.items():
            if name.startswith(prefix):
                item, _, field = name[len(prefix) :].partition(".")  # item: "" or "#2"
                if field:
                    extra[field + item] = value
        ref = extra.get("TemplateId", "")
    return Receipt(CHANNEL, fields.get("FromUserName", ""), kind, ref, created_at, extra)
