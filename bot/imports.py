"""File imports for cadres: CSV or .xlsx in, every bad value named by row and column, all or nothing.

A programme's import reads rows with ``read_rows``, validates each into its own record type and
collects ``RowError``s; if any, it raises ``ImportFailed`` before writing anything. It then
writes every row in one transaction, keyed so that the same file again changes nothing.
Row numbers are those a spreadsheet shows: the header is row 1, the first record row 2.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from bot.errors import LongtuanError

T = TypeVar("T")

#: Stop collecting after this many errors: the cadre fixes the file, not a 5,000-line report.
MAX_ERRORS = 50


@dataclass(slots=True, frozen=True)
class RowError:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return (
            f"第 {self.row} 行「{self.column}」列：{self.message}"
            if self.column
            else f"第 {self.row} 行：{self.message}"
        )


class ImportFailed(LongtuanError):
    """The file was refused; nothing was imported. ``errors`` names each bad value."""

    def __init__(self, errors: list[RowError], header: str = "") -> None:
        self.errors = errors
        lines = [header or f"导入失败，共 {len(errors)} 处错误，没有导入任何数据："]
        lines.extend(f"  {e}" for e in errors[:MAX_ERRORS])
        super().__init__("\n".join(lines))


@dataclass(slots=True, frozen=True)
class Table:
    columns: list[str]
    #: (row number as a spreadsheet shows it, values by column name)
    rows: list[tuple[int, dict[str, str]]]

    def require(self, *names: str) -> None:
        missing = [n for n in names if n not in self.columns]
        if missing:
            raise ImportFailed([RowError(1, n, "缺少这一列") for n in missing])


def read_rows(path: str | Path) -> Table:
    """Read a .csv (UTF-8, with or without BOM) or .xlsx file; cells come back as stripped strings."""
    path = Path(path)
    if not path.exists():
        raise ImportFailed([], f"找不到文件 {path}")
    if path.suffix.lower() == ".xlsx":
        return _read_xlsx(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            rows = [
                (i, _record(header, cells)) for i, cells in enumerate(reader, start=2) if any(c.strip() for c in cells)
            ]
    except UnicodeDecodeError:
        raise ImportFailed([], f"{path.name} 不是 UTF-8 编码的 CSV（可在 Excel 里另存为「CSV UTF-8」）") from None
    return Table(header, rows)


def _record(header: list[str], cells: list[str]) -> dict[str, str]:
    values = {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(header)}
    if len(cells) > len(header):
        values["\x00extra"] = ",".join(cells[len(header) :])
    return values


def _read_xlsx(path: Path) -> Table:
    import openpyxl  # a well-kept reader; imported only when a workbook comes

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        it = sheet.iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(it, ())]
        rows = []
        for i, cells in enumerate(it, start=2):
            values = ["" if c is None else _cell(c) for c in cells]
            if any(values):
                rows.append((i, _record(header, values)))
    finally:
        book.close()
    return Table(header, rows)


def _cell(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel keeps 13800138000 as a float
    return str(value).strip()


def progress(items: Iterable[T], total: int | None = None, desc: str = "") -> Iterator[T]:
    """A progress bar on a terminal (tqdm), nothing when the output is a pipe or a file."""
    if not sys.stderr.isatty():
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, total=total, desc=desc, unit="行", leave=False)
