"""Storing call records on both databases: matching to operator logs, call-back tasks, idempotency;
and ``hcp phone import`` as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from channels.intake import Intake
from channels.phone.cdr import parse_asterisk, parse_mapped_csv
from gateway.core.db.models_phone import CallbackTask, PhoneCall
from gateway.core.services import Services
from gateway.phone.importer import store_parsed
from tests.helpers import local, upgrade_once
from tests.phone.cdr_samples import MASTER_CSV


async def _operator_log(services: Services, source_ref: str, phone: str, minute: int) -> int:
    result = await services.ingestor.ingest(Intake.build(
        channel="phone", source_ref=source_ref, received_at=local(2026, 11, 27, 9, minute),
        text="窗口人员态度不好 #immediate", contact={"phone": phone}))
    return result.message_id


async def test_import_matches_logs_raises_callbacks_and_is_idempotent(services: Services) -> None:
    message_id = await _operator_log(services, "hl-log-000000001", "13812345678", 2)
    counts = await store_parsed(services, parse_asterisk(MASTER_CSV))
    assert counts.as_dict() == {"new": 6, "already": 0, "answered": 1, "matched": 1, "unmatched": 0, "callbacks": 4,
                                "merged": 0, "reached_later": 0, "no_number": 1, "tasks_closed": 0}
    again = await store_parsed(services, parse_asterisk(MASTER_CSV))
    assert again.new == 0 and again.already == 6 and again.callbacks == 0
    async with services.store.read() as session:
        calls = {c.call_id: c for c in (await session.execute(select(PhoneCall))).scalars()}
        tasks = list((await session.execute(select(CallbackTask).order_by(CallbackTask.id))).scalars())
    assert len(calls) == 6 and calls["1764200000.1"].message_id == message_id
    assert services.cipher.open(calls["1764200000.1"].caller_enc) == "13812345678"
    assert b"1381234" not in calls["1764200000.1"].caller_enc
    assert [(t.kind, services.cipher.open(t.phone_enc)) for t in tasks] == [
        ("missed", "13900001111"), ("missed", "0537-6851890"), ("abandoned", "0537-6851891"),
        ("missed", "13600003333")]
    # Missed at 09:05 on a Friday: due one office hour later.
    assert tasks[0].due_at == local(2026, 11, 27, 10, 5) and tasks[0].status == "open"
    # The caller got through later the same morning: the task is closed by the import of that call.
    later = parse_mapped_csv("id,caller,start,status\nB-1,13900001111,2026-11-27 11:00:00,answered\n"
                             "B-2,13900001111,2026-11-27 11:30:00,missed\n")
    counts = await store_parsed(services, later)
    assert (counts.tasks_closed, counts.unmatched, counts.callbacks) == (1, 1, 1)
    async with services.store.read() as session:
        first = await session.get(CallbackTask, tasks[0].id)
        opened = (await session.execute(select(CallbackTask).where(
            CallbackTask.dedup_key == "call:csv:B-2"))).scalar_one()
    assert first.status == "done" and first.note == "群众再次来电已接通" and opened.status == "open"


async def test_repeated_missed_calls_raise_one_task(services: Services) -> None:
    text = ("id,caller,start,status\n"
            "C-1,13800000001,2026-11-27 09:00:00,missed\nC-2,13800000001,2026-11-27 09:10:00,busy\n"
            "C-3,13800000002,2026-11-27 09:20:00,missed\n")
    await _operator_log(services, "hl-log-000000002", "13800000002", 25)
    counts = await store_parsed(services, parse_mapped_csv(text))
    assert (counts.callbacks, counts.merged, counts.reached_later) == (1, 1, 1)


def hcp(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HCP_DATA_DIR": str(tmp_path / "var"), "PYTHONPATH": str(Path(__file__).parents[2])}
    env.pop("HCP_DATABASE_URL", None)
    if args[:2] != ("db", "upgrade"):
        upgrade_once(env, tmp_path)
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120, cwd=tmp_path)


def test_cli_import_reports_bad_rows_and_keeps_good_ones(tmp_path: Path) -> None:
    (tmp_path / "Master.csv").write_text(MASTER_CSV, encoding="utf-8")
    first = hcp(tmp_path, "phone", "import", "Master.csv")
    assert first.returncode == 1, first.stderr
    assert "6 new calls, 0 already imported, 3 rejected, 1 duplicate rows, 1 skipped" in first.stdout
    assert "answered: 1 (0 matched to operator logs, 1 without a log); call-back tasks: 4 new" in first.stdout
    assert "Master.csv:6: start 'not a time'" in first.stderr
    assert "Master.csv:7: has 4 columns" in first.stderr
    assert "Master.csv:9: duplicate: call id 1764200000.2 repeats row 2" in first.stderr
    assert "13812345678" not in first.stdout + first.stderr.replace("\"13812345678\"", "")
    again = hcp(tmp_path, "phone", "import", "Master.csv")
    assert "0 new calls, 6 already imported" in again.stdout and "call-back tasks: 0 new" in again.stdout
    listed = json.loads(hcp(tmp_path, "phone", "callbacks", "--json").stdout)
    assert [entry["phone"] for entry in listed] == ["139****1111", "0537-***1890", "0537-***1891", "136****3333"]
    assert all(entry["countdown"].startswith(("剩余", "已超时")) for entry in listed)
    (tmp_path / "calls.csv").write_text("编号,号码\n1,2\n", encoding="utf-8")
    bad = hcp(tmp_path, "phone", "import", "calls.csv", "--format", "csv")
    assert bad.returncode == 1 and "no column for call_id, caller, start" in bad.stderr
    mapped = hcp(tmp_path, "phone", "import", "calls.csv", "--format", "csv", "--map", "caller")
    assert mapped.returncode == 2 and "FIELD=HEADER" in mapped.stderr
