"""A post as the import file describes it (``content/demo/internships.csv``), validated cell by cell."""

from __future__ import annotations

import hashlib
import re
from dataclasses import astuple, dataclass
from datetime import date, timedelta

from bot.db.internships.tables import SEASONS
from bot.imports import ImportFailed, RowError, Table

COLUMNS = (
    "post_id",
    "title",
    "company",
    "street",
    "industry",
    "majors",
    "description",
    "positions",
    "pay",
    "hmt_round",
    "season",
    "start_date",
    "deadline",
    "status",
    "contact_email",
)

INDUSTRIES = (
    "软件与信息技术",
    "智能制造",
    "电子信息",
    "现代物流",
    "金融财会",
    "文化创意与设计",
    "新媒体与传播",
    "教育培训",
    "医疗健康",
    "社会工作与公益",
    "商贸零售",
    "法律服务",
    "人力资源",
    "建筑与城市规划",
    "生物医药",
    "新能源",
)

_POST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_PAY = re.compile(r"(?P<n>[1-9][0-9]{0,5})元/(?P<unit>天|月)|无薪（[^（）]{1,50}）|面议")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
#: Longest text a cell may hold, by column (the database's column sizes).
_LIMITS = {"title": 100, "company": 100, "majors": 500, "description": 2000, "contact_email": 254}


@dataclass(slots=True, frozen=True)
class Post:
    post_id: str
    title: str
    company: str
    street: str
    industry: str
    majors: str
    description: str
    positions: int
    pay: str
    hmt_round: bool
    season: str
    start_date: date
    deadline: date
    status: str
    contact_email: str

    @property
    def pay_kind(self) -> str:
        if self.pay == "面议":
            return "negotiable"
        if self.pay.startswith("无薪"):
            return "unpaid"
        return "day" if self.pay.endswith("/天") else "month"

    @property
    def paid(self) -> bool:
        return self.pay_kind != "unpaid"

    @property
    def digest(self) -> str:
        """Changes when any imported field changes: an unchanged row is not written again."""
        return hashlib.sha256("\x1f".join(str(v) for v in astuple(self)).encode()).hexdigest()

    def shifted(self, days: int) -> Post:
        """The same post with its dates moved (demo data follows the calendar)."""
        values = {name: getattr(self, name) for name in COLUMNS}
        values["start_date"] = self.start_date + timedelta(days=days)
        values["deadline"] = self.deadline + timedelta(days=days)
        return Post(**values)


def parse_posts(table: Table, streets: list[str]) -> list[Post]:
    """Every row as a ``Post``, or ``ImportFailed`` naming each bad cell by row and column."""
    table.require(*COLUMNS)
    errors: list[RowError] = []
    posts: list[Post] = []
    seen: dict[str, int] = {}
    for row, cells in table.rows:
        found = _parse(row, cells, streets, errors)
        if found is None:
            continue
        first = seen.setdefault(found.post_id, row)
        if first != row:
            errors.append(RowError(row, "post_id", f"{found.post_id} 与第 {first} 行重复"))
            continue
        posts.append(found)
    if errors:
        raise ImportFailed(errors)
    return posts


def _parse(row: int, cells: dict[str, str], streets: list[str], errors: list[RowError]) -> Post | None:
    before = len(errors)

    def bad(column: str, message: str) -> None:
        errors.append(RowError(row, column, message))

    if "\x00extra" in cells:
        bad("", "这一行的格子比表头多（是不是有没加引号的英文逗号？）")
    for column in COLUMNS:
        if not cells.get(column, ""):
            bad(column, "不能为空")
    for column, limit in _LIMITS.items():
        if len(cells.get(column, "")) > limit:
            bad(column, f"超过 {limit} 个字")
    post_id = cells.get("post_id", "")
    if post_id and not _POST_ID.fullmatch(post_id):
        bad("post_id", f"「{post_id}」只能用字母、数字、- 和 _，最多 32 个字符")
    street = cells.get("street", "").removesuffix("街道")
    if street and street not in streets:
        bad("street", f"「{street}」不是龙岗区的街道（应为 {'、'.join(streets)} 之一）")
    industry = cells.get("industry", "")
    if industry and industry not in INDUSTRIES:
        bad("industry", f"「{industry}」不在 16 个行业里")
    positions = cells.get("positions", "")
    if positions and not (positions.isdigit() and 1 <= int(positions) <= 999):
        bad("positions", f"「{positions}」应为 1 到 999 的整数")
    pay = cells.get("pay", "")
    if pay and not _PAY.fullmatch(pay):
        bad("pay", f"「{pay}」应写成「150元/天」「3000元/月」「无薪（提供餐补）」或「面议」")
    hmt = cells.get("hmt_round", "")
    if hmt and hmt not in ("0", "1"):
        bad("hmt_round", f"「{hmt}」应为 1（港澳台专场）或 0")
    season = cells.get("season", "")
    if season and season not in SEASONS:
        bad("season", f"「{season}」应为 {'、'.join(SEASONS)} 之一")
    dates: dict[str, date] = {}
    for column in ("start_date", "deadline"):
        value = cells.get(column, "")
        if value:
            try:
                dates[column] = date.fromisoformat(value[:10]) if len(value) in (10, 19) else date.fromisoformat(value)
            except ValueError:
                bad(column, f"「{value}」不是 YYYY-MM-DD 格式的日期")
    status = cells.get("status", "")
    if status and status not in ("open", "closed"):
        bad("status", f"「{status}」应为 open 或 closed")
    email = cells.get("contact_email", "")
    if email and not _EMAIL.fullmatch(email):
        bad("contact_email", f"「{email}」不是邮箱地址")
    if len(errors) > before:
        return None
    return Post(
        post_id=post_id,
        title=cells["title"],
        company=cells["company"],
        street=street,
        industry=industry,
        majors=";".join(m.strip() for m in cells["majors"].split(";") if m.strip()),
        description=cells["description"],
        positions=int(positions),
        pay=pay,
        hmt_round=hmt == "1",
        season=season,
        start_date=dates["start_date"],
        deadline=dates["deadline"],
        status=status,
        contact_email=email,
    )
