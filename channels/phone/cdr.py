"""Call records from the hotline exchange: Asterisk ``Master.csv``, any CSV with a header mapping,
and Twilio's call list.  Each becomes a ``CallRecord``; each bad row becomes a ``RowProblem``
naming its row number, and the good rows are kept.

What a call *means* for the hall:

* ``answered`` – an operator (Asterisk: a bridged ``dstchannel``) or the voice mailbox (Twilio)
  took it; the gateway matches it to the operator's log by number and time.
* ``missed`` – nobody answered (``NO ANSWER``, ``BUSY``, ``FAILED``, ``CONGESTION``, a voicemail
  application): a call-back task, not a complaint (nothing was said).
* ``abandoned`` – the exchange answered (IVR, queue) but the caller hung up before an operator
  took the call (``ANSWERED`` without a ``dstchannel``): also a call back.

Calls placed *by* the hall (an internal extension as the caller) are skipped with a reason, and
the same call id twice in one file is reported as a duplicate of the first row.  The call id
(Asterisk ``uniqueid``, the CSV's id column, Twilio's ``CallSid``) makes re-imports idempotent.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from channels.phone.numbers import DEFAULT_AREA_CODE, CallerNumberError, is_hidden, normalize_caller

Outcome = Literal["answered", "missed", "abandoned"]
SOURCES = ("asterisk", "csv", "twilio")

# cdr_csv's column order; uniqueid and userfield follow when loguniqueid / loguserfield are on, and
# peeraccount, linkedid, sequence when newcdrcolumns is on.
ASTERISK_COLUMNS = ("accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp",
                    "lastdata", "start", "answer", "end", "duration", "billsec", "disposition", "amaflags",
                    "uniqueid", "userfield", "peeraccount", "linkedid", "sequence")
_VOICEMAIL_APPS = frozenset({"voicemail", "vm"})
_MISSED = frozenset({"no answer", "busy", "failed", "congestion"})

CSV_FIELDS = ("call_id", "caller", "start", "status", "answered_at", "end", "duration", "talk_seconds", "agent",
              "direction")
CSV_REQUIRED = ("call_id", "caller", "start")
CSV_ALIASES: dict[str, tuple[str, ...]] = {
    "call_id": ("call_id", "callid", "uniqueid", "id", "callsid", "sid", "通话编号", "话单编号", "呼叫编号", "流水号"),
    "caller": ("caller", "src", "from", "caller_number", "主叫", "主叫号码", "来电号码", "电话号码"),
    "start": ("start", "start_time", "started_at", "calldate", "开始时间", "呼叫时间", "来电时间"),
    "status": ("status", "disposition", "result", "状态", "呼叫结果", "通话状态", "接听状态"),
    "answered_at": ("answer", "answered_at", "answer_time", "应答时间", "接听时间"),
    "end": ("end", "end_time", "ended_at", "结束时间", "挂机时间"),
    "duration": ("duration", "总时长", "时长"),
    "talk_seconds": ("billsec", "talk_seconds", "talk_time", "通话时长", "通话秒数"),
    "agent": ("agent", "operator", "dstchannel", "坐席", "坐席工号", "话务员", "接听坐席"),
    "direction": ("direction", "呼叫方向", "方向"),
}
STATUS_WORDS: dict[str, Outcome] = {
    **dict.fromkeys(("answered", "answer", "completed", "connected", "已接", "已接听", "接通", "已接通", "应答"),
                    "answered"),
    **dict.fromkeys(("missed", "no answer", "no-answer", "noanswer", "busy", "failed", "congestion", "canceled",
                     "cancelled", "未接", "未接听", "漏接", "忙", "占线", "失败", "无应答", "未应答"), "missed"),
    **dict.fromkeys(("abandoned", "abandon", "放弃", "呼损", "排队放弃", "早释"), "abandoned"),
}
_OUTBOUND_WORDS = frozenset({"outbound", "out", "outgoing", "呼出", "外呼", "outbound-api", "outbound-dial"})
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
                 "%Y%m%d%H%M%S", "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M")


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One inbound call as the exchange saw it.  ``caller`` is canonical, ``None`` when withheld."""

    source: str
    call_id: str
    caller: str | None
    started_at: datetime
    outcome: Outcome
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    duration: int = 0
    talk_seconds: int = 0
    agent: str | None = None
    disposition: str | None = None


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A row that was not imported: ``kind`` is ``error`` (malformed), ``duplicate`` or ``skipped``."""

    row: int
    kind: Literal["error", "duplicate", "skipped"]
    message: str


@dataclass
class ParsedCalls:
    """Good records with their row numbers, and every row that was left out and why."""

    records: list[tuple[int, CallRecord]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def errors(self) -> list[RowProblem]:
        return [p for p in self.problems if p.kind == "error"]

    def _add(self, row: int, record: CallRecord, seen: dict[str, int]) -> None:
        first = seen.get(record.call_id)
        if first is not None:
            self.problems.append(RowProblem(row, "duplicate", f"call id {record.call_id} repeats row {first}"))
            return
        seen[record.call_id] = row
        self.records.append((row, record))


class RowError(ValueError):
    """One malformed row; the message names the column."""


def decode_text(data: bytes) -> str:
    """CSV bytes from the exchange: UTF-8 (with or without BOM), else GB18030 (Chinese Windows exports)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def parse_time(value: str, tz: ZoneInfo, column: str) -> datetime:
    """A CDR timestamp; naive values are in the exchange's time zone ``tz``."""
    text = value.strip()
    if not text:
        raise RowError(f"{column} is empty")
    moment: datetime | None = None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for pattern in _TIME_FORMATS:
            try:
                moment = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
    if moment is None:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            raise RowError(f"{column} {text!r} is not a date and time (2026-11-27 09:12:33)") from None
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def _optional_time(value: str | None, tz: ZoneInfo, column: str) -> datetime | None:
    return parse_time(value, tz, column) if value and value.strip() else None


def _seconds(value: str | None, column: str) -> int:
    text = (value or "").strip()
    if not text:
        return 0
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return int(float(text))
    if match := re.fullmatch(r"(?:(\d+):)?(\d{1,2}):(\d{2})", text):
        hours, minutes, seconds = (int(part or 0) for part in match.groups())
        return hours * 3600 + minutes * 60 + seconds
    raise RowError(f"{column} {text!r} is not a number of seconds")


def _caller(raw: str | None, area_code: str) -> str | None:
    try:
        return normalize_caller(raw, area_code=area_code)
    except CallerNumberError as exc:
        raise _Internal(f"caller {raw!r} is not an outside number ({exc})") from None


class _Internal(Exception):
    """An internal or outbound call: skipped, not an error."""


# ----- Asterisk -------------------------------------------------------------------------------------

def parse_asterisk(data: bytes | str, *, tz: str = "Asia/Shanghai",
                   area_code: str = DEFAULT_AREA_CODE) -> ParsedCalls:
    """Asterisk ``cdr_csv`` records (``Master.csv``: no header, 16–21 columns in the fixed order)."""
    text = decode_text(data) if isinstance(data, bytes) else data
    zone = ZoneInfo(tz)
    parsed = ParsedCalls()
    seen: dict[str, int] = {}
    for number, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        try:
            record = _asterisk_row(row, zone, area_code)
        except RowError as exc:
            parsed.problems.append(RowProblem(number, "error", str(exc)))
            continue
        except _Internal as exc:
            parsed.problems.append(RowProblem(number, "skipped", str(exc)))
            continue
        parsed._add(number, record, seen)
    return parsed


def _asterisk_row(row: list[str], zone: ZoneInfo, area_code: str) -> CallRecord:
    if not 16 <= len(row) <= len(ASTERISK_COLUMNS):
        raise RowError(f"has {len(row)} columns; Master.csv rows have 16 to {len(ASTERISK_COLUMNS)}")
    cells = dict(zip(ASTERISK_COLUMNS, (cell.strip() for cell in row), strict=False))
    start = parse_time(cells["start"], zone, "start")
    answer = _optional_time(cells["answer"], zone, "answer")
    end = _optional_time(cells["end"], zone, "end")
    duration = _seconds(cells["duration"], "duration")
    billsec = _seconds(cells["billsec"], "billsec")
    disposition = cells["disposition"].upper()
    if not disposition:
        raise RowError("disposition is empty")
    caller = None if is_hidden(cells["src"]) else _caller(cells["src"], area_code)
    if disposition == "ANSWERED":
        if cells["lastapp"].lower() in _VOICEMAIL_APPS:
            outcome: Outcome = "missed"
        else:
            outcome = "answered" if cells["dstchannel"] else "abandoned"
    elif disposition.lower() in _MISSED:
        outcome = "missed"
    else:
        raise RowError(f"disposition {cells['disposition']!r} is not ANSWERED, NO ANSWER, BUSY, FAILED or CONGESTION")
    call_id = cells.get("uniqueid") or ""
    if not call_id:
        digest = hashlib.sha256("|".join((cells["src"], cells["start"], cells["channel"])).encode()).hexdigest()
        call_id = f"cdr-{digest[:24]}"
    if len(call_id) > 120:
        raise RowError("uniqueid is longer than 120 characters")
    agent = cells["dstchannel"] or None
    return CallRecord("asterisk", call_id, caller, start, outcome, answered_at=answer, ended_at=end,
                      duration=duration, talk_seconds=billsec, agent=agent[:64] if agent else None,
                      disposition=disposition)


# ----- plain CSV with a header -------------------------------------------------------------------------

def resolve_mapping(header: list[str], mapping: Mapping[str, str] | None = None) -> dict[str, int]:
    """Column index of each field: explicit ``mapping`` (field → header text) first, then the aliases.

    Raises ``ValueError`` naming a missing required field or a mapped header that is not in the file.
    """
    normalized = {cell.strip().lower(): index for index, cell in enumerate(header)}
    columns: dict[str, int] = {}
    for name, title in (mapping or {}).items():
        if name not in CSV_FIELDS:
            raise ValueError(f"unknown field {name!r} in the mapping; fields: {', '.join(CSV_FIELDS)}")
        index = normalized.get(title.strip().lower())
        if index is None:
            raise ValueError(f"the header has no column {title!r} (mapped to {name}); "
                             f"columns: {', '.join(h.strip() for h in header)}")
        columns[name] = index
    for name in CSV_FIELDS:
        if name in columns:
            continue
        for alias in CSV_ALIASES[name]:
            if alias.lower() in normalized:
                columns[name] = normalized[alias.lower()]
                break
    missing = [name for name in CSV_REQUIRED if name not in columns]
    if missing:
        raise ValueError(f"no column for {', '.join(missing)}: map it with --map FIELD=HEADER "
                         f"(header: {', '.join(h.strip() for h in header)})")
    return columns


def parse_mapped_csv(data: bytes | str, mapping: Mapping[str, str] | None = None, *, tz: str = "Asia/Shanghai",
                     area_code: str = DEFAULT_AREA_CODE, delimiter: str | None = None) -> ParsedCalls:
    """A CSV export with a header row; row numbers count the header as row 1, as a spreadsheet does."""
    text = decode_text(data) if isinstance(data, bytes) else data
    if delimiter is None:
        first_line = text.split("\n", 1)[0]
        delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        raise ValueError("the file is empty (a header row is expected)")
    columns = resolve_mapping(header, mapping)
    zone = ZoneInfo(tz)
    parsed = ParsedCalls()
    seen: dict[str, int] = {}
    for number, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        try:
            record = _mapped_row(row, columns, zone, area_code)
        except RowError as exc:
            parsed.problems.append(RowProblem(number, "error", str(exc)))
            continue
        except _Internal as exc:
            parsed.problems.append(RowProblem(number, "skipped", str(exc)))
            continue
        parsed._add(number, record, seen)
    return parsed


def _mapped_row(row: list[str], columns: dict[str, int], zone: ZoneInfo, area_code: str) -> CallRecord:
    width = max(columns.values()) + 1
    if len(row) < width:
        raise RowError(f"has {len(row)} columns; the header needs at least {width}")
    cells = {name: row[index].strip() for name, index in columns.items()}
    call_id = cells["call_id"]
    if not call_id:
        raise RowError("call_id is empty")
    if len(call_id) > 120:
        raise RowError("call_id is longer than 120 characters")
    direction = cells.get("direction", "").lower()
    if direction in _OUTBOUND_WORDS:
        raise _Internal(f"an outgoing call ({cells['direction']})")
    start = parse_time(cells["start"], zone, "start")
    answered_at = _optional_time(cells.get("answered_at"), zone, "answered_at")
    end = _optional_time(cells.get("end"), zone, "end")
    duration = _seconds(cells.get("duration"), "duration")
    talk = _seconds(cells.get("talk_seconds"), "talk_seconds")
    caller = None if is_hidden(cells["caller"]) else _caller(cells["caller"], area_code)
    status = cells.get("status", "")
    if status:
        outcome = STATUS_WORDS.get(status.lower())
        if outcome is None:
            raise RowError(f"status {status!r} is not one of answered/missed/abandoned "
                           "(or ANSWERED, NO ANSWER, BUSY, 已接听, 未接听, 放弃 …)")
    else:
        outcome = "answered" if talk > 0 or answered_at else "missed"
    return CallRecord("csv", call_id, caller, start, outcome, answered_at=answered_at, ended_at=end,
                      duration=duration, talk_seconds=talk, agent=cells.get("agent") or None,
                      disposition=status or None)


# ----- Twilio's call list ---------------------------------------------------------------------------------

_TWILIO_OUTCOMES: dict[str, Outcome] = {"completed": "answered", "busy": "missed", "no-answer": "missed",
                                        "failed": "missed", "canceled": "missed"}


def _value(item: Mapping[str, Any] | Any, *names: str) -> Any:
    for name in names:
        value = item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)
        if value not in (None, ""):
            return value
    return None


def parse_twilio_calls(items: Iterable[Mapping[str, Any] | Any], *, area_code: str = DEFAULT_AREA_CODE) -> ParsedCalls:
    """Twilio call resources (``CallInstance`` objects or the REST API's JSON ``calls`` items).

    Row numbers are positions in the list (1 = first call).  Unfinished calls are skipped: their
    final status comes later.
    """
    parsed = ParsedCalls()
    seen: dict[str, int] = {}
    utc = ZoneInfo("UTC")
    for number, item in enumerate(items, start=1):
        try:
            sid = _value(item, "sid", "CallSid")
            if not isinstance(sid, str) or not re.fullmatch(r"CA[0-9a-fA-F]{32}", sid):
                raise RowError(f"sid {sid!r} is not a Twilio CallSid (CA + 32 hex digits)")
            direction = str(_value(item, "direction", "Direction") or "inbound").lower()
            if direction != "inbound":
                raise _Internal(f"an outgoing call ({direction})")
            status = str(_value(item, "status", "CallStatus") or "").lower()
            if status not in _TWILIO_OUTCOMES:
                raise _Internal(f"not finished yet (status {status or 'unknown'})")
            start_value = _value(item, "start_time", "date_created", "StartTime")
            if start_value is None:
                raise RowError("start_time is missing")
            start = start_value if isinstance(start_value, datetime) else parse_time(str(start_value), utc,
                                                                                    "start_time")
            end_value = _value(item, "end_time", "EndTime")
            end = end_value if isinstance(end_value, datetime) or end_value is None else parse_time(
                str(end_value), utc, "end_time")
            duration = _seconds(str(_value(item, "duration", "CallDuration") or ""), "duration")
            raw_from = _value(item, "_from", "from_", "from", "From")
            caller = None if is_hidden(raw_from) else _caller(str(raw_from), area_code)
        except RowError as exc:
            parsed.problems.append(RowProblem(number, "error", str(exc)))
            continue
        except _Internal as exc:
            parsed.problems.append(RowProblem(number, "skipped", str(exc)))
            continue
        outcome = _TWILIO_OUTCOMES[status]
        parsed._add(number, CallRecord("twilio", sid, caller, start, outcome,
                                       answered_at=start if outcome == "answered" else None, ended_at=end,
                                       duration=duration, talk_seconds=duration if outcome == "answered" else 0,
                                       disposition=status), seen)
    return parsed
