"""Exports are inert: a citizen's formula reaches the CSV and the workbook as text (issue 23, point 1)."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import update

from gateway.app import create_app
from gateway.auth.users import UserError, add_user
from gateway.core.db.models import Hall
from gateway.core.registry import RegistryError, read_registry_file
from gateway.core.rosters import RosterError, add_shift
from gateway.core.safe_text import inert
from gateway.core.services import Services
from gateway.results import views
from tests.helpers import local, make_intake
from tests.staff import make_staff, signed_in

ATTACKS = ['=HYPERLINK("http://evil.example/","click")', "=cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0",
           "-2+3", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]
EVIL_HALL = '=HYPERLINK("http://evil.example/","金屯")\x07\x1b'


@pytest.fixture(autouse=True)
def november(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, "today", lambda tz: date(2026, 11, 20))


def test_inert_rule() -> None:
    for attack in ATTACKS:
        assert inert(attack).startswith("'"), attack
    assert inert("窗口人员=玩手机") == "窗口人员=玩手机", "only a leading sign matters"
    assert inert("a\x00b\x0bc\x1f") == "abc"
    assert inert("两行\n文字\t") == "两行\n文字\t"


async def test_csv_and_workbook_carry_formulas_as_text(services: Services) -> None:
    for n, attack in enumerate(ATTACKS):
        await services.ingestor.ingest(make_intake(source_ref=f"atk-{n}", text=attack + "\x07",
                                                   received_at=local(2026, 11, 3, 9, n), rating="不满意"))
    async with services.store.write() as session:  # a name stored before names were validated
        await session.execute(update(Hall).where(Hall.code == "jintun").values(name=EVIL_HALL))
    await make_staff(services, "chief", ["supervisor"], [])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "chief") as client:
        exported = await client.get("/reports/export.csv?from=2026-11-01&to=2026-11-30")
        workbook = await client.get("/reports/export.xlsx?from=2026-11-01&to=2026-11-30")
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    column = {name: i for i, name in enumerate(rows[0])}
    texts = sorted(row[column["内容"]] for row in rows[1:])
    assert texts == sorted("'" + attack.strip() for attack in ATTACKS), texts
    assert all("\x07" not in row[column["内容"]] for row in rows[1:])
    assert {row[column["镇（街道）"]] for row in rows[1:]} == {"'" + EVIL_HALL[:-2]}
    assert workbook.status_code == 200, "a control character must not fail the workbook"
    book = load_workbook(io.BytesIO(workbook.content))
    cells = [cell for row in book["镇街排名"].iter_rows() for cell in row if isinstance(cell.value, str)
             and "HYPERLINK" in cell.value]
    assert cells, "the hall is listed"
    for cell in cells:
        assert cell.value == EVIL_HALL[:-2] and cell.data_type == "s" and cell.quotePrefix
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            assert all(cell.data_type != "f" for cell in row), f"a formula in {sheet.title}"


async def test_staff_entered_names_refuse_control_characters(services: Services, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="控制字符"):
        await add_user(services.store, "li", "correct-horse-42", ["supervisor"], display_name="李\r\n伪造行")
    with pytest.raises(UserError, match="控制字符"):
        await add_user(services.store, "li\x00", "correct-horse-42", ["supervisor"])
    with pytest.raises(RosterError, match="控制字符"):
        await add_shift(services.store, hall="jintun", window="w01", employee_no="007", name="王\x1b[31m",
                        starts_at=local(2026, 11, 3, 8, 30), ends_at=local(2026, 11, 3, 12), actor="t")
    registry = tmp_path / "halls.json"
    registry.write_text('{"halls": [{"code": "x1", "name": "新镇\\u0007"}]}', encoding="utf-8")
    with pytest.raises(RegistryError, match="控制字符"):
        read_registry_file(registry)


async def test_api_client_names_refuse_control_characters(services: Services) -> None:
    from gateway.api.clients import ClientError, add_client

    with pytest.raises(ClientError, match="控制字符"):
        await add_client(services.store, services.cipher, "queue-1", "叫号系统\r\n伪造")
