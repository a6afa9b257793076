"""12345 hotline work orders (工单): the city platform's Excel or CSV export in, ``WorkOrder`` out,
and the county's answers (办理结果) back out in the platform's layout.

Since the local hotlines were merged into the 12345 government hotline, complaints about a town's
hall reach the county as work orders that the city platform assigns.  The platform exports them as
``.xlsx`` or as CSV (GBK from Chinese Windows, or UTF-8), with Chinese headers, sometimes under a
title row.  Headers are found through a map of aliases (like ``channels.phone.cdr``), overridable
field by field; each row becomes one ``WorkOrder`` or one ``RowProblem`` naming its spreadsheet row
number with a reason in Chinese (the hotline team reads them), and the good rows are kept.
``工单编号`` makes re-imports idempotent.

Pure: bytes in, values out; the gateway stores them (``gateway.phone.workorders``).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from channels.phone.cdr import RowError, RowProblem, decode_text, parse_time
from channels.phone.numbers import DEFAULT_AREA_CODE, CallerNumberError, is_hidden, normalize_caller

FIELDS = ("order_no", "called_at", "caller", "name", "text", "title", "town", "unit", "due", "kind")
REQUIRED = ("order_no", "called_at", "text")
ALIASES: dict[str, tuple[str, ...]] = {
    "order_no": ("工单编号", "工单号", "工单编码", "编号", "order_no"),
    "called_at": ("来电时间", "受理时间", "登记时间", "创建时间", "called_at"),
    "caller": ("来电号码", "联系电话", "诉求人电话", "联系方式", "caller"),
    "name": ("诉求人", "诉求人姓名", "来电人", "联系人", "name"),
    "text": ("诉求内容", "来电内容", "工单内容", "问题描述", "text"),
    "title": ("诉求标题", "工单标题", "标题", "title"),
    "town": ("所属镇街", "所属乡镇", "镇街", "所属区域", "town"),
    "unit": ("承办单位", "办理单位", "责任单位", "unit"),
    "due": ("办理时限", "办结时限", "处理时限", "截止时间", "due"),
    "kind": ("诉求类型", "工单类型", "诉求分类", "kind"),
}
# The layout the platform takes the answers back in (办理结果 import).
RESULT_HEADER = ("工单编号", "承办单位", "办理状态", "办理结果", "办结时间", "办理时限", "是否超期")
MAX_ORDER_NO = 64
HEADER_SEARCH_ROWS = 10
_WORKING_DAYS = re.compile(r"^(\d{1,3})\s*个?\s*工作日$")
_DAYS = re.compile(r"^(\d{1,3})\s*(?:个)?\s*(?:自然日|天|日)$")
_HOURS = re.compile(r"^(\d{1,3})\s*(?:个)?\s*小时$")
_DATE_ONLY = ("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y%m%d")


@dataclass(frozen=True, slots=True)
class PlatformDue:
    """The platform's 办理时限: a moment, or a number of working days counted by the county's calendar."""

    at: datetime | None = None
    working_days: int | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class WorkOrder:
    """One 12345 work order; ``caller`` is canonical (``None`` when withheld)."""

    row: int
    order_no: str
    called_at: datetime
    text: str
    caller: str | None = None
    name: str | None = None
    title: str | None = None
    town: str | None = None
    unit: str | None = None
    kind: str | None = None
    due: PlatformDue = PlatformDue()


@dataclass
class ParsedOrders:
    orders: list[WorkOrder] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def errors(self) -> list[RowProblem]:
        return [p for p in self.problems if p.kind == "error"]


def is_xlsx(data: bytes) -> bool:
    """An Excel 2007+ workbook, or what claims to be one (a zip: a CSV never starts with ``PK\x03\x04``)."""
    return data.startswith(b"PK\x03\x04")


def _xlsx_rows(data: bytes) -> Iterator[list[Any]]:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if "xl/workbook.xml" not in archive.namelist():
                raise ValueError("是 zip 压缩文件，但不是 Excel 工作簿（.xlsx）")
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except ValueError:
        raise
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ValueError(f"不是可读取的 Excel 工作簿（{type(exc).__name__}）") from None
    try:
        sheet = book.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield list(row)
    finally:
        book.close()


def _csv_rows(data: bytes) -> Iterator[list[Any]]:
    text = decode_text(data)
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a number cell holding 工单编号 or a phone number
    return str(value).strip()


def _resolve(header: Sequence[Any], mapping: Mapping[str, str]) -> dict[str, int] | None:
    """Column of each field, or ``None`` when this row is not the header (no 工单编号 column)."""
    normalized = {_cell(cell).lower(): index for index, cell in enumerate(header) if _cell(cell)}
    columns: dict[str, int] = {}
    for name, title in mapping.items():
        index = normalized.get(title.strip().lower())
        if index is not None:
            columns[name] = index
    for name in FIELDS:
        if name in columns:
            continue
        for alias in ALIASES[name]:
            if alias.lower() in normalized:
                columns[name] = normalized[alias.lower()]
                break
    return columns if "order_no" in columns else None


def _moment(value: Any, tz: ZoneInfo, column: str) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=tz) if value.tzinfo is None else value
    if isinstance(value, date):
        return datetime.combine(value, time(0), tz)
    return parse_time(_cell(value), tz, column)


def parse_due(value: Any, called_at: datetime, tz: ZoneInfo) -> PlatformDue:
    """办理时限 as the platform writes it: a date and time, a date (its end), ``3个工作日``, ``5天``, ``24小时``."""
    if isinstance(value, datetime):
        return PlatformDue(at=value.replace(tzinfo=tz) if value.tzinfo is None else value, text=str(value))
    if isinstance(value, date):
        return PlatformDue(at=datetime.combine(value, time(23, 59, 59), tz), text=value.isoformat())
    text = _cell(value)
    if not text:
        return PlatformDue()
    if match := _WORKING_DAYS.match(text):
        days = int(match.group(1))
        if days < 1:
            raise RowError(f"办理时限 {text!r} 至少为 1 个工作日")
        return PlatformDue(working_days=days, text=text)
    if match := _DAYS.match(text):
        end = (called_at.astimezone(tz) + timedelta(days=int(match.group(1)))).date()
        return PlatformDue(at=datetime.combine(end, time(23, 59, 59), tz), text=text)
    if match := _HOURS.match(text):
        return PlatformDue(at=called_at + timedelta(hours=int(match.group(1))), text=text)
    for pattern in _DATE_ONLY:
        try:
            day = datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        return PlatformDue(at=datetime.combine(day, time(23, 59, 59), tz), text=text)
    try:
        return PlatformDue(at=parse_time(text, tz, "办理时限"), text=text)
    except RowError:
        raise RowError(f"办理时限 {text!r} 不是日期、时间或期限（如 2026-12-02 17:00、3个工作日、5天）") from None


def _caller(value: Any, area_code: str) -> str | None:
    raw = _cell(value)
    if not raw or is_hidden(raw):
        return None
    try:
        return normalize_caller(raw, area_code=area_code)
    except CallerNumberError:
        raise RowError(f"来电号码 {raw!r} 不是电话号码") from None


def _order(number: int, row: Sequence[Any], columns: dict[str, int], tz: ZoneInfo, area_code: str) -> WorkOrder:
    def get(name: str) -> Any:
        index = columns.get(name)
        return row[index] if index is not None and index < len(row) else None

    order_no = _cell(get("order_no"))
    if not order_no:
        raise RowError("工单编号为空")
    if len(order_no) > MAX_ORDER_NO or not re.fullmatch(r"[\w.\-/#]+", order_no):
        raise RowError(f"工单编号 {order_no[:80]!r} 不是工单编号（字母、数字和 - . / #，最长 64 位）")
    raw_called = get("called_at")
    if raw_called in (None, ""):
        raise RowError("来电时间为空")
    try:
        called_at = _moment(raw_called, tz, "来电时间")
    except RowError:
        raise RowError(f"来电时间 {_cell(raw_called)[:40]!r} 不是日期时间（如 2026-11-27 09:12:33）") from None
    text = _cell(get("text"))
    if not text:
        raise RowError("诉求内容为空")
    if len(text) > 50_000:
        raise RowError("诉求内容超过 50,000 字")
    name = _cell(get("name"))[:50] or None
    return WorkOrder(
        row=number, order_no=order_no, called_at=called_at, text=text, caller=_caller(get("caller"), area_code),
        name=name, title=_cell(get("title"))[:200] or None, town=_cell(get("town"))[:64] or None,
        unit=_cell(get("unit"))[:100] or None, kind=_cell(get("kind"))[:32] or None,
        due=parse_due(get("due"), called_at, tz))


def parse_orders(data: bytes, mapping: Mapping[str, str] | None = None, *, tz: str = "Asia/Shanghai",
                 area_code: str = DEFAULT_AREA_CODE) -> ParsedOrders:
    """Read an export (xlsx or CSV, detected from the bytes).  Row numbers are the spreadsheet's.

    Raises ``ValueError`` for a file that cannot be read at all (no header with 工单编号 in its
    first rows, a required column missing, a damaged workbook, an unknown field in ``mapping``).
    """
    mapping = dict(mapping or {})
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise ValueError(f"--map 中有未知字段 {', '.join(unknown)}；可用字段：{', '.join(FIELDS)}")
    rows: Iterable[list[Any]] = _xlsx_rows(data) if is_xlsx(data) else _csv_rows(data)
    zone = ZoneInfo(tz)
    parsed = ParsedOrders()
    columns: dict[str, int] | None = None
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        if columns is None:
            columns = _resolve(row, mapping)
            if columns is None and number >= HEADER_SEARCH_ROWS:
                break
            if columns is not None:
                missing = [name for name in REQUIRED if name not in columns]
                if missing:
                    labels = {"order_no": "工单编号", "called_at": "来电时间", "text": "诉求内容"}
                    raise ValueError(f"第 {number} 行的表头缺少 {'、'.join(labels[m] for m in missing)} 列"
                                     f"（表头：{'，'.join(_cell(c) for c in row if _cell(c))}）；"
                                     "可用 --map 字段=表头 指定")
            continue
        if not row or all(not _cell(cell) for cell in row):
            continue
        try:
            order = _order(number, row, columns, zone, area_code)
        except RowError as exc:
            parsed.problems.append(RowProblem(number, "error", str(exc)))
            continue
        first = seen.get(order.order_no)
        if first is not None:
            parsed.problems.append(RowProblem(number, "duplicate", f"工单编号 {order.order_no} 与第 {first} 行重复"))
            continue
        seen[order.order_no] = number
        parsed.orders.append(order)
    if columns is None:
        raise ValueError(f"前 {HEADER_SEARCH_ROWS} 行中没有含“工单编号”的表头（这是 12345 平台导出的工单文件吗？）")
    return parsed


# ----- the answers back to the platform ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class OrderResult:
    """One line of the 办理结果 file."""

    order_no: str
    unit: str
    status: str
    result: str
    finished_at: datetime | None
    platform_due: datetime | None

    def cells(self, tz: ZoneInfo) -> list[str]:
        finished = self.finished_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if self.finished_at else ""
        due = self.platform_due.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if self.platform_due else ""
        late = ""
        if self.platform_due is not None and self.finished_at is not None:
            late = "是" if self.finished_at > self.platform_due else "否"
        return [self.order_no, self.unit, self.status, self.result, finished, due, late]


def results_csv(results: Iterable[OrderResult], *, tz: str = "Asia/Shanghai", encoding: str = "gbk") -> bytes:
    """The answers as the platform imports them: a CSV with Chinese headers, GBK by default.

    Characters GBK lacks are replaced by ``?`` rather than failing the whole file (GB18030 has them all).
    """
    zone = ZoneInfo(tz)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(RESULT_HEADER)
    for result in results:
        writer.writerow(result.cells(zone))
    text = buffer.getvalue()
    if encoding.lower().replace("-", "") in ("utf8", "utf8sig"):
        return text.encode("utf-8-sig")
    return text.encode(encoding, errors="replace")


def results_xlsx(results: Iterable[OrderResult], *, tz: str = "Asia/Shanghai") -> bytes:
    """The same answers as an Excel workbook (one sheet, 办理结果)."""
    from openpyxl import Workbook

    zone = ZoneInfo(tz)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("办理结果")
    sheet.append(list(RESULT_HEADER))
    for result in results:
        sheet.append(result.cells(zone))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
