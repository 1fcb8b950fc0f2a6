"""Masking personal details before a text is kept: mobile and ID numbers, e-mail, long digit runs,
names after 「我叫」 and the like. Over-masking is the safe side: a kept question only teaches
staff which answers are missing, it never needs to say who asked."""

from __future__ import annotations

import re

# Order matters: an ID number holds digit runs that would otherwise be masked as a phone number.
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)|(?<!\d)\d{15}(?!\d)"), "[身份证号]"),
    (re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)"), "[手机号]"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[邮箱]"),
    # Landlines (0755-12345678), QQ, bank cards, student numbers: any run of six digits or more.
    (re.compile(r"(?<!\d)\d{3,4}-\d{7,8}(?!\d)|(?<!\d)\d{6,}(?!\d)"), "[号码]"),
    (
        re.compile(
            r"(我叫|我的名字是|我的名字叫|我名字叫|名字叫|本人叫|本人是|姓名[:：]?|名字[:：]|我姓)\s*[\u4e00-\u9fff·]{1,4}"
        ),
        r"\1[姓名]",
    ),
    (re.compile(r"([\u4e00-\u9fff]{1,3})(同学|老师|先生|女士)(?=[，,。\s]|$)"), r"[姓名]\2"),
)

#: The longest text kept (the column's size).
MAX_CHARS = 500


def mask(text: str) -> str:
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text[:MAX_CHARS]
