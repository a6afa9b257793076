"""Parsing call records: Asterisk Master.csv, a mapped CSV, Twilio's list; bad rows by row number."""

from __future__ import annotations

from datetime import datetime

import pytest

from channels.phone.cdr import parse_asterisk, parse_mapped_csv, parse_twilio_calls, resolve_mapping
from tests.helpers import local
from tests.phone.cdr_samples import CHINESE_CSV, MASTER_CSV, asterisk_row


def test_asterisk_master_csv() -> None:
    parsed = parse_asterisk(MASTER_CSV.encode())
    records = {row: record for row, record in parsed.records}
    assert sorted(records) == [1, 2, 3, 4, 11, 12]
    answered, missed, busy, abandoned, hidden, voicemail = (records[n] for n in (1, 2, 3, 4, 11, 12))
    assert (answered.outcome, answered.caller, answered.call_id) == ("answered", "13812345678", "1764200000.1")
    assert answered.started_at == local(2026, 11, 27, 9, 0) and answered.ended_at == local(2026, 11, 27, 9, 3)
    assert answered.talk_seconds == 60 and answered.agent == "SIP/8001-0000a1"
    assert (missed.outcome, busy.outcome, busy.caller) == ("missed", "missed", "0537-6851890")
    assert (abandoned.outcome, abandoned.caller) == ("abandoned", "0537-6851891")
    assert hidden.caller is None and voicemail.outcome == "missed"
    problems = [(p.row, p.kind, p.message) for p in parsed.problems]
    assert problems[0][:2] == (5, "skipped") and "8001" in problems[0][2]
    assert problems[1][:2] == (6, "error") and "start 'not a time'" in problems[1][2]
    assert problems[2] == (7, "error", "has 4 columns; Master.csv rows have 16 to 21")
    assert problems[3][:2] == (8, "error") and "HUNG UP" in problems[3][2]
    assert problems[4] == (9, "duplicate", "call id 1764200000.2 repeats row 2")
    assert len(problems) == 5


def test_asterisk_without_uniqueid_gets_a_stable_id_and_utc_option() -> None:
    row = asterisk_row("", "13812345678", "2026-11-27 01:00:00", "NO ANSWER", dstchannel="").rsplit(",", 2)[0]
    first = parse_asterisk(row, tz="UTC").records[0][1]
    again = parse_asterisk(row, tz="UTC").records[0][1]
    assert first.call_id == again.call_id and first.call_id.startswith("cdr-")
    assert first.started_at == local(2026, 11, 27, 9, 0)


def test_mapped_csv_with_chinese_headers_in_gbk() -> None:
    parsed = parse_mapped_csv(CHINESE_CSV.encode("gb18030"))
    records = {row: record for row, record in parsed.records}
    assert sorted(records) == [2, 3, 4]
    assert (records[2].outcome, records[2].caller, records[2].talk_seconds) == ("answered", "13812345678", 120)
    assert records[2].agent == "8001"  # 通话时长 is talk time, 坐席 the agent
    assert records[3].outcome == "missed" and records[4].outcome == "abandoned"
    assert records[4].started_at == local(2026, 11, 27, 10, 6)
    assert [(p.row, p.kind) for p in parsed.problems] == [(5, "error"), (6, "error"), (7, "error"), (8, "duplicate")]
    assert "昨天上午" in parsed.problems[0].message and "转接中" in parsed.problems[1].message
    assert parsed.problems[2].message == "call_id is empty"


def test_header_mapping_is_explicit_when_aliases_do_not_fit() -> None:
    text = "流水,主叫方,时间,结果\nX1,13812345678,2026-11-27T10:00:00+08:00,NO ANSWER\n"
    with pytest.raises(ValueError, match="no column for call_id, caller, start"):
        parse_mapped_csv(text)
    parsed = parse_mapped_csv(text, {"call_id": "流水", "caller": "主叫方", "start": "时间", "status": "结果"})
    assert parsed.records[0][1].outcome == "missed" and parsed.records[0][1].call_id == "X1"
    with pytest.raises(ValueError, match="no column '来电'"):
        resolve_mapping(["a", "b"], {"caller": "来电"})
    with pytest.raises(ValueError, match="unknown field 'phone'"):
        resolve_mapping(["a"], {"phone": "a"})


def test_twilio_call_list() -> None:
    sid = "CA" + "1" * 32
    items = [
        {"sid": sid, "from": "+8613812345678", "status": "completed", "direction": "inbound",
         "start_time": "Fri, 27 Nov 2026 02:00:00 +0000", "duration": "42"},
        {"sid": "CA" + "2" * 32, "from": "+8613900001111", "status": "no-answer", "direction": "inbound",
         "start_time": datetime(2026, 11, 27, 2, 5, tzinfo=local(2026, 1, 1).tzinfo), "duration": "0"},
        {"sid": "CA" + "3" * 32, "from": "+8613900001111", "status": "in-progress", "direction": "inbound",
         "start_time": "Fri, 27 Nov 2026 02:06:00 +0000"},
        {"sid": "CA" + "4" * 32, "from": "+8613900001111", "status": "completed", "direction": "outbound-api",
         "start_time": "Fri, 27 Nov 2026 02:06:00 +0000"},
        {"sid": "bad", "status": "completed"},
        {"sid": sid, "from": "+8613812345678", "status": "completed", "direction": "inbound",
         "start_time": "Fri, 27 Nov 2026 02:00:00 +0000", "duration": "42"},
    ]
    parsed = parse_twilio_calls(items)
    assert [(row, r.outcome, r.caller) for row, r in parsed.records] == [
        (1, "answered", "13812345678"), (2, "missed", "13900001111")]
    assert parsed.records[0][1].started_at == local(2026, 11, 27, 10, 0) and parsed.records[0][1].duration == 42
    assert [(p.row, p.kind) for p in parsed.problems] == [(3, "skipped"), (4, "skipped"), (5, "error"),
                                                          (6, "duplicate")]
