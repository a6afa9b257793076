"""12345 work orders: parsing the platform's exports (GBK, UTF-8, Excel), storing them as cases
exactly once with the platform's deadline beside the county's, and the answers exported back."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import select

from channels.phone.workorders import RESULT_HEADER, parse_due, parse_orders, results_csv
from gateway.app import create_app
from gateway.auth.roles import Principal
from gateway.console.actions import Actor, reply, transition
from gateway.core.db.models import Case, Contact
from gateway.core.db.models_phone import HotlineOrder
from gateway.core.db.models_staff import User
from gateway.core.services import Services
from gateway.phone.workorders import import_orders, order_results
from tests.helpers import FixedClassifier, FixedOutcome, local, upgrade_once
from tests.phone.orders_samples import csv_bytes, xlsx_bytes
from tests.staff import make_staff, signed_in

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("data", [csv_bytes("gbk"), csv_bytes("utf-8"), xlsx_bytes()], ids=["gbk", "utf-8", "xlsx"])
def test_export_parses_good_rows_and_names_bad_rows(data: bytes) -> None:
    parsed = parse_orders(data)
    assert [o.order_no for o in parsed.orders] == ["JN12345-20261127-0001", "JN12345-20261127-0002",
                                                   "JN12345-20261127-0005"]
    first, second, third = parsed.orders
    assert first.row == 3 and first.caller == "13812345678" and first.name == "王建国" and first.town == "金屯镇"
    assert first.called_at == local(2026, 11, 27, 9, 12, 33)
    assert first.due.at == local(2026, 12, 2, 17, 0) and first.unit == "金屯镇人民政府"
    assert second.caller == "0537-6851890" and second.due.working_days == 3 and second.due.at is None
    assert third.caller is None and third.due.at == local(2026, 12, 2, 23, 59, 59)  # 5天 from 27 November
    problems = [(p.row, p.kind, p.message) for p in parsed.problems]
    assert problems == [(5, "error", "诉求内容为空"),
                        (6, "error", "来电时间 '昨天上午' 不是日期时间（如 2026-11-27 09:12:33）"),
                        (7, "duplicate", "工单编号 JN12345-20261127-0001 与第 3 行重复"),
                        (9, "error", "来电号码 '8001' 不是电话号码")]


def test_a_file_without_the_header_is_refused_whole() -> None:
    with pytest.raises(ValueError, match="没有含“工单编号”的表头"):
        parse_orders("来电号码,时间\n138,2026\n".encode("gbk"))
    with pytest.raises(ValueError, match="表头缺少 诉求内容 列"):
        parse_orders("工单编号,来电时间\nA1,2026-11-27 09:00\n".encode("gbk"))
    with pytest.raises(ValueError, match="不是可读取的 Excel 工作簿"):
        parse_orders(b"PK\x03\x04" + b"\0" * 30 + b"xl/workbook.xml")
    with pytest.raises(ValueError, match="不是 Excel 工作簿"):
        parse_orders(_zip_without_workbook())


def test_map_names_an_unusual_header() -> None:
    data = "单号,受理日期,反映内容\nX-1,2026-11-27 09:00,窗口人员玩手机\n".encode("gbk")
    with pytest.raises(ValueError):
        parse_orders(data)
    parsed = parse_orders("工单编号,受理日期,反映内容\nX-1,2026-11-27 09:00,窗口人员玩手机\n".encode("gbk"),
                          {"called_at": "受理日期", "text": "反映内容"})
    assert parsed.orders[0].text == "窗口人员玩手机"


@given(st.integers(min_value=1, max_value=60), st.sampled_from(["个工作日", "工作日", " 个工作日"]))
def test_working_day_periods_parse(days: int, unit: str) -> None:
    due = parse_due(f"{days}{unit}", local(2026, 12, 31, 9), SHANGHAI)
    assert due.working_days == days and due.at is None


@given(st.integers(min_value=0, max_value=400))
def test_natural_day_periods_end_at_midnight_even_across_the_year(days: int) -> None:
    start = local(2026, 12, 31, 23, 30)
    due = parse_due(f"{days}天", start, SHANGHAI)
    assert due.at is not None and due.at.time().hour == 23 and due.at >= start
    assert (due.at.date() - start.date()).days == days


def test_results_csv_in_gbk_reads_back_and_survives_characters_gbk_lacks() -> None:
    from channels.phone.workorders import OrderResult

    rows = [OrderResult("A-1", "金屯镇", "已答复", "已整改，窗口调整上班时间。😀", local(2026, 12, 1, 10),
                        local(2026, 12, 2, 17)),
            OrderResult("A-2", "", "办理中", "", None, None)]
    data = results_csv(rows)
    lines = list(csv.reader(io.StringIO(data.decode("gbk"))))
    assert tuple(lines[0]) == RESULT_HEADER
    assert lines[1] == ["A-1", "金屯镇", "已答复", "已整改，窗口调整上班时间。?", "2026-12-01 10:00:00",
                        "2026-12-02 17:00:00", "否"]
    assert lines[2] == ["A-2", "", "办理中", "", "", "", ""]
    assert results_csv(rows, encoding="utf-8").startswith("\ufeff工单编号".encode())


class _Complaints(FixedClassifier):
    """Every order is a 限时整改 complaint (the keyword triage has its own tests)."""

    def classify(self, text: str, **kwargs: Any) -> FixedOutcome:
        return FixedOutcome("time_limited", "efficiency")


async def test_import_is_idempotent_keeps_both_deadlines_and_exports_the_answer(services: Services) -> None:
    services._classifier, services._ingestor = _Complaints(), None
    parsed = parse_orders(csv_bytes("gbk"))
    counts = await import_orders(services, parsed, source_file="orders.csv")
    assert counts.as_dict() == {"new": 3, "already": 0, "rejected": 0, "no_town": 1}
    assert [p.row for p in counts.problems] == [5, 6, 7, 9]
    again = await import_orders(services, parse_orders(xlsx_bytes()), source_file="orders.xlsx")
    assert again.new == 0 and again.already == 3
    async with services.store.read() as session:
        orders = {o.order_no: o for o in (await session.execute(select(HotlineOrder))).scalars()}
        cases = {c.id: c for c in (await session.execute(select(Case))).scalars()}
        contact = (await session.execute(select(Contact).where(
            Contact.case_id == orders["JN12345-20261127-0001"].case_id))).scalar_one()
    assert len(orders) == 3 and len(cases) == 3
    first = orders["JN12345-20261127-0001"]
    assert first.source_file == "orders.csv" and first.source_row == 3
    assert first.platform_due == local(2026, 12, 2, 17, 0)
    # 3 working days from Friday 27 November 2026: Monday 30 Nov, Tue 1 Dec, Wed 2 Dec, office close.
    assert orders["JN12345-20261127-0002"].platform_due == local(2026, 12, 2, 17, 0)
    case = cases[first.case_id]
    assert case.channel == "hotline12345" and case.received_at == local(2026, 11, 27, 9, 12, 33)
    assert case.reply_channel == "phone" and case.category == "time_limited"
    assert case.result_due == local(2026, 12, 2, 17, 0)  # the county's own 3 working days, beside the platform's
    assert services.cipher.open(contact.phone_enc) == "13812345678" and b"1381234" not in contact.phone_enc
    assert cases[orders["JN12345-20261127-0005"].case_id].hall_id is None

    actor = Actor(principal=await _supervisor(services))
    for action in ("start_verification", "verify_valid", "rectify"):
        await transition(services, case.code, action, actor, note="核实属实" if action == "verify_valid" else None)
    await reply(services, case.code, actor, "经核实，社保窗口已调整上班时间，8:30 准时开窗。", channel="phone")
    results = await order_results(services, mark=True)
    assert [(r.order_no, r.status) for r in results] == [
        ("JN12345-20261127-0001", "已答复"), ("JN12345-20261127-0002", "办理中"), ("JN12345-20261127-0005", "办理中")]
    assert results[0].result.startswith("经核实") and results[0].platform_due == local(2026, 12, 2, 17, 0)
    answered = await order_results(services, answered_only=True)
    assert [r.order_no for r in answered] == ["JN12345-20261127-0001"]
    async with services.store.read() as session:
        exported = {o.order_no: o.exported_at for o in (await session.execute(select(HotlineOrder))).scalars()}
    assert exported["JN12345-20261127-0001"] is not None and exported["JN12345-20261127-0002"] is None


async def _supervisor(services: Services) -> Principal:
    await make_staff(services, "sup", ["supervisor"])
    async with services.store.read() as session:
        user_id = (await session.execute(select(User.id).where(User.username == "sup"))).scalar_one()
    return Principal(user_id, "sup", "督查", frozenset({"supervisor"}), frozenset())


async def test_upload_page_imports_reports_rows_and_downloads_results(services: Services) -> None:
    await make_staff(services, "op", ["operator"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "op") as client:
        page = await client.get("/hotline/12345")
        assert page.status_code == 200 and "还没有导入 12345 工单" in page.text
        response = await client.post("/hotline/12345", data={"csrf_token": client.csrf},
                                     files={"file": ("工单.xlsx", xlsx_bytes())})
        assert response.status_code == 200, response.text
        assert "新受理 3 件" in response.text and "工单.xlsx:5" in response.text and "工单.xlsx:7" in response.text
        assert "JN12345-20261127-0002" in response.text and "平台办理时限" in response.text
        bad = await client.post("/hotline/12345", data={"csrf_token": client.csrf},
                                files={"file": ("x.csv", "a,b\n1,2\n".encode("gbk"))})
        assert bad.status_code == 422 and "无法读取该文件" in bad.text
        download = await client.get("/hotline/12345/results.csv")
        assert download.status_code == 200 and download.content.decode("gbk").startswith("工单编号,承办单位")
        book = await client.get("/hotline/12345/results.xlsx")
        sheet = load_workbook(io.BytesIO(book.content)).active
        assert [c.value for c in sheet[1]] == list(RESULT_HEADER) and sheet.max_row == 4
    async with signed_in(app, "op") as client:
        assert (await client.get("/hotline/12345/results.pdf")).status_code == 404


def test_cli_import_and_export(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_bytes(csv_bytes("gbk"))
    env = {**os.environ, "HCP_DATA_DIR": str(tmp_path / "var"), "PYTHONPATH": str(Path(__file__).parents[2]),
           "HCP_TRIAGE_PROCESSES": "0"}
    env.pop("HCP_DATABASE_URL", None)
    upgrade_once(env, tmp_path)

    def hcp(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway.cli", *args], capture_output=True, text=True,
                              env=env, timeout=120, cwd=tmp_path)

    first = hcp("phone", "import", "orders.csv", "--format", "12345")
    assert first.returncode == 1, first.stderr
    assert "3 new work orders, 0 already imported, 3 rejected, 1 duplicate rows" in first.stdout
    assert "orders.csv:5: 诉求内容为空" in first.stderr
    assert "orders.csv:7: duplicate: 工单编号 JN12345-20261127-0001 与第 3 行重复" in first.stderr
    second = hcp("phone", "import", "orders.csv", "--format", "12345")
    assert "0 new work orders, 3 already imported" in second.stdout
    out = hcp("phone", "export-12345", "-o", "results.csv")
    assert out.returncode == 0, out.stderr
    lines = (tmp_path / "results.csv").read_bytes().decode("gbk").splitlines()
    assert lines[0] == ",".join(RESULT_HEADER) and len(lines) == 4
    missing = hcp("phone", "import", "nope.csv", "--format", "12345")
    assert missing.returncode == 1 and "nope.csv" in missing.stderr
    assert datetime  # imported for symmetry with other tests


def _zip_without_workbook() -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    return out.getvalue()
