"""One year's official holiday schedule (国务院办公厅 notice), read from TOML or CSV.

The State Council publishes next year's statutory holidays and make-up working days (调休) each
autumn; chinese-calendar only knows a year once a new release ships it (1.11.0 stops at 2026).
``hcp calendar import FILE`` reads the schedule here, and ``gateway.core.workdays`` writes it as
calendar overrides and recomputes the open deadlines.  Parsing is pure: text in, a ``Schedule`` or
a ``ScheduleError`` listing every bad row by its line out.

TOML::

    year = 2027
    source = "国务院办公厅关于2027年部分节假日安排的通知"

    [holidays]            # days off: the statutory holidays and the weekend days moved into them
    2027-01-01 = "元旦"

    [workdays]            # make-up working days (调休上班), a Saturday or a Sunday
    2027-02-20 = "春节调休上班"

CSV (UTF-8, or GBK/GB18030 as Excel saves it; a header line ``date,kind,name``; ``kind`` is
``休`` / ``holiday`` or ``班`` / ``workday``)::

    date,kind,name
    2027-01-01,休,元旦
    2027-02-20,班,春节调休上班
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date

HOLIDAY_KINDS = {"休", "holiday", "假", "off"}
WORKDAY_KINDS = {"班", "workday", "上班", "work"}
_TOML_KEY = re.compile(r'^\s*"?(?P<key>[0-9A-Za-z_-]+)"?\s*=')
_TOML_TABLE = re.compile(r"^\s*\[(?P<name>[^\]]+)\]\s*(#.*)?$")


class ScheduleError(ValueError):
    """The file cannot be imported; ``problems`` names each bad row (``line N: …``)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Schedule:
    """A year's days off and make-up working days; every other day follows the weekday."""

    year: int
    holidays: dict[date, str] = field(default_factory=dict)
    workdays: dict[date, str] = field(default_factory=dict)
    source: str | None = None

    def days(self) -> dict[date, tuple[bool, str]]:
        """Each listed day: (is a working day, name)."""
        return {**{d: (False, n) for d, n in self.holidays.items()}, **{d: (True, n) for d, n in self.workdays.items()}}


def _check_day(text: str, year: int | None, workday: bool, where: str, problems: list[str]) -> date | None:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        problems.append(f"{where}: {text!r} 不是日期（应为 2027-01-01）")
        return None
    if year is not None and day.year != year:
        problems.append(f"{where}: {day} 不在 {year} 年")
        return None
    if workday and day.weekday() < 5:
        problems.append(f"{where}: {day} 是周{'一二三四五'[day.weekday()]}，补班日应为周六或周日")
        return None
    return day


def _finish(year: int, holidays: dict[date, str], workdays: dict[date, str], source: str | None,
            problems: list[str]) -> Schedule:
    if not holidays and not problems:
        problems.append(f"{year} 年的安排中没有任何放假日")
    if problems:
        raise ScheduleError(problems)
    return Schedule(year, holidays, workdays, source)


def _toml_lines(text: str) -> dict[tuple[str, str], int]:
    """(table, key) → line number, so that a bad value can be named by its line."""
    lines: dict[tuple[str, str], int] = {}
    table = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if (header := _TOML_TABLE.match(line)) is not None:
            table = header["name"].strip()
        elif (key := _TOML_KEY.match(line)) is not None:
            lines.setdefault((table, key["key"]), number)
    return lines


def parse_toml(text: str) -> Schedule:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScheduleError([f"TOML 格式错误：{exc}"]) from None
    lines = _toml_lines(text)
    problems: list[str] = []
    year = data.get("year")
    if not isinstance(year, int) or not 2000 <= year <= 2100:
        raise ScheduleError([f"line {lines.get(('', 'year'), 1)}: 需要 year = 2027 这样的年份"])
    unknown = sorted(set(data) - {"year", "source", "holidays", "workdays"})
    if unknown:
        problems.append(f"未知的项：{', '.join(unknown)}（只允许 year、source、[holidays]、[workdays]）")
    parsed: dict[str, dict[date, str]] = {"holidays": {}, "workdays": {}}
    for table in ("holidays", "workdays"):
        entries = data.get(table, {})
        if not isinstance(entries, dict):
            problems.append(f"line {lines.get(('', table), 1)}: {table} 应为 [{table}] 表")
            continue
        for key, name in entries.items():
            where = f"line {lines.get((table, str(key)), '?')}"
            day = _check_day(str(key), year, table == "workdays", where, problems)
            if day is None:
                continue
            if not isinstance(name, str) or not name.strip():
                problems.append(f"{where}: {day} 需要一个名称（如 \"春节\"）")
                continue
            parsed[table][day] = name.strip()[:100]
    for day in sorted(set(parsed["holidays"]) & set(parsed["workdays"])):
        problems.append(f"line {lines.get(('workdays', day.isoformat()), '?')}: {day} 同时列为放假和补班")
    source = data.get("source")
    return _finish(year, parsed["holidays"], parsed["workdays"], str(source)[:200] if source else None, problems)


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ScheduleError(["文件既不是 UTF-8 也不是 GBK/GB18030 编码"])


def parse_csv(text: str, year: int | None = None) -> Schedule:
    reader = csv.reader(io.StringIO(text))
    problems: list[str] = []
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}
    seen: dict[date, int] = {}
    header_seen = False
    for row in reader:
        number = reader.line_num
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if not header_seen:
            header_seen = True
            if [c.lower() for c in cells[:3]] != ["date", "kind", "name"]:
                problems.append(f"line {number}: 第一行应为表头 date,kind,name")
            continue
        where = f"line {number}"
        if len(cells) < 3 or not cells[2]:
            problems.append(f"{where}: 需要三列：日期、休/班、名称")
            continue
        kind = cells[1].lower()
        if kind not in HOLIDAY_KINDS | WORKDAY_KINDS:
            problems.append(f"{where}: 第二列应为“休”或“班”，而不是 {cells[1]!r}")
            continue
        workday = kind in WORKDAY_KINDS
        day = _check_day(cells[0], year, workday, where, problems)
        if day is None:
            continue
        if year is None:
            year = day.year
        if day in seen:
            problems.append(f"{where}: {day} 已在 line {seen[day]} 列出")
            continue
        seen[day] = number
        (workdays if workday else holidays)[day] = cells[2][:100]
    if year is None:
        raise ScheduleError([*problems, "文件中没有任何日期"])
    return _finish(year, holidays, workdays, None, problems)


def parse_schedule(raw: bytes, name: str, *, year: int | None = None) -> Schedule:
    """By the file's extension: ``.toml`` or ``.csv``."""
    text = _decode(raw)
    if name.lower().endswith(".toml"):
        schedule = parse_toml(text)
        if year is not None and schedule.year != year:
            raise ScheduleError([f"文件是 {schedule.year} 年的安排，不是 {year} 年"])
        return schedule
    if name.lower().endswith(".csv"):
        return parse_csv(text, year)
    raise ScheduleError([f"{name}: 只能导入 .toml 或 .csv 文件"])
