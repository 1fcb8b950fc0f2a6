"""The participation ratio (参学比) report: per branch, street and district, per episode and as a trend.

The ratio is completed / members. ``members`` is the roster size the organisation declares for
the branch, or the number bound through the bot when that is larger (a roster not yet updated
must not give a ratio above 100%). Confirmed (on the official list) and self-reported only are
counted apart; ``completed`` is their sum.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Sequence

from bot.db.study.episodes import Episode
from bot.db.study.report import Line, lines, total

__all__ = ["Line", "as_csv", "as_text", "lines", "percent"]


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def _figures(line: Line) -> str:
    return (
        f"{line.members:>7} {line.confirmed:>7} {line.self_reported:>7} "
        f"{percent(line.ratio):>7} {percent(line.confirmed_ratio):>7}"
    )


def _right(text: str, width: int) -> str:
    """Right-align in terminal columns: a Chinese character takes two."""
    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return " " * max(width - used, 0) + text


#: Numbers first, names last, so names of any length leave the columns straight.
HEADER = " ".join(_right(h, 7) for h in ("团员数", "已确认", "自报", "参学比", "确认比")) + "  "


def as_text(current: list[Line], trend: dict[int, list[Line]], episode: Episode, street: str | None) -> str:
    out = [f"青年大学习参学比 · 第{episode.number}期「{episode.title}」" + (f" · {street}街道" if street else "")]
    out.append("团员数 = 组织名单人数（绑定人数更多时取绑定人数）；已确认 = 官方名单有；自报 = 自报待确认")
    out.append("参学比 = (已确认 + 自报) / 团员数；确认比 = 已确认 / 团员数")
    out.append("")
    out.append(HEADER + "支部 / 街道 / 全区")
    by_street: dict[tuple[str, str], list[Line]] = {}
    for line in current:
        if line.level == "branch":
            by_street.setdefault((line.district, line.street), []).append(line)
    for line in current:
        if line.level == "street":
            for branch in by_street.get((line.district, line.street), []):
                out.append(f"{_figures(branch)}  {branch.code} {branch.name}")
            out.append(f"{_figures(line)}  = {line.street}街道")
            out.append("")
    for line in current:
        if line.level == "district":
            out.append(f"{_figures(line)}  = {line.district}")
    if trend:
        out.append("")
        out.append("最近几期趋势（" + (f"{street}街道" if street else "全区") + "）：")
        out.append(HEADER + "期")
        for number, rows in sorted(trend.items()):
            total = _total(rows, street)
            if total is not None:
                out.append(f"{_figures(total)}  第{number}期")
    return "\n".join(out)


def _total(rows: Sequence[Line], street: str | None) -> Line | None:
    level = "street" if street else "district"
    found = [r for r in rows if r.level == level]
    if len(found) == 1:
        return found[0]
    return None if not found else total(found, level, lambda r: ("", ""))[0]


COLUMNS = [
    "episode",
    "level",
    "district",
    "street",
    "branch_code",
    "branch",
    "members",
    "confirmed",
    "self_reported",
    "completed",
    "ratio",
    "confirmed_ratio",
]


def as_csv(rows: Iterable[Line]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow(
            [
                r.episode,
                r.level,
                r.district,
                r.street,
                r.code,
                r.name,
                r.members,
                r.confirmed,
                r.self_reported,
                r.completed,
                f"{r.ratio:.4f}",
                f"{r.confirmed_ratio:.4f}",
            ]
        )
    return buffer.getvalue()
