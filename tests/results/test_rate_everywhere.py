"""差评整改率 has one definition on every sheet of the workbook and on /reports.

A clerk once saw 50% on the 通报 sheet and 33.3% on the 趋势 sheet for the same day: the summary
left out the cases still within their deadline (整改中) and the other sheets divided by all 差评.
Three 限时整改 差评 of one day (rectified, overdue and unrectified, still within its deadline) make
the difference visible: the rule gives 1 / 2 = 50.0% with 整改中 1; dividing by all 差评 gives 33.3%.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy import select

from gateway.app import create_app
from gateway.core.db.models import Case
from gateway.core.labels import IN_PROGRESS_LABEL
from gateway.core.services import Services
from gateway.core.workflow import apply_transition
from gateway.results import views
from tests.helpers import local, make_intake
from tests.results import dataset
from tests.staff import make_staff, signed_in

NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
DAY = "2026-11-10"  # none of the hand-made cases of ``dataset`` falls on it
SHEETS = ("趋势", "渠道", "窗口", "工作人员", "服务事项", "评价来源")


async def add_day_cases(services: Services) -> None:
    """Three 限时整改 差评 at 金屯镇 w01 on ``DAY``: rectified, overdue unrectified, within deadline."""
    for ref, due, rectify in (("done", local(2026, 11, 13, 17, 0), True),
                              ("late", local(2026, 11, 13, 17, 0), False),
                              ("in-time", local(2026, 11, 25, 17, 0), False)):
        result = await services.ingestor.ingest(make_intake(
            source_ref=ref, received_at=local(2026, 11, 10, 9, 0), text="跑了好几趟 #time_limited",
            rating="不满意", reasons=["repeat_trips"], hall="jintun", window="w01",
            extra={"form": "window", "entry": "web"}))
        if rectify:
            for action, at in (("start_verification", local(2026, 11, 10, 10, 0)),
                               ("verify_valid", local(2026, 11, 10, 11, 0)),
                               ("rectify", local(2026, 11, 10, 12, 0)), ("reply", local(2026, 11, 11, 9, 0))):
                async with services.store.write() as session:
                    await apply_transition(session, result.case_id, action, actor="test", note="说明", now=at)
        async with services.store.write() as session:
            case = (await session.execute(select(Case).where(Case.id == result.case_id))).scalar_one()
            case.first_response_due, case.first_responded_at, case.result_due = due, local(2026, 11, 10, 10, 0), due


def table(sheet: Any) -> list[dict[str, Any]]:
    """The rows of a sheet's first table (up to its first empty row), keyed by its header."""
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    end = next((i for i, row in enumerate(rows) if row[0] is None), len(rows))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:end]]


def summary(book: Any) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The 通报 sheet: value per indicator, and the per-track rows of its 整改类别 table."""
    rows = [[c.value for c in row] for row in book["通报"].iter_rows()]
    values = {r[0]: r[1] for r in rows if r and r[0]}
    header = next(i for i, r in enumerate(rows) if r[0] == "整改类别")
    tracks = {r[0]: dict(zip(rows[header], r, strict=False)) for r in rows[header + 1:] if r[0]}
    return values, tracks


@pytest.fixture(autouse=True)
def november(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, "today", lambda tz: date(2026, 11, 20))


async def test_every_sheet_and_the_reports_page_count_the_rate_by_the_same_rule(services: Services) -> None:
    await dataset.load(services)
    await add_day_cases(services)
    await make_staff(services, "chief", ["supervisor"], [])
    app = create_app(services=services, run_workers=False)
    with time_machine.travel(NOW, tick=False):
        async with signed_in(app, "chief") as client:
            day_xlsx = await client.get(f"/reports/export.xlsx?from={DAY}&to={DAY}")
            month_xlsx = await client.get("/reports/export.xlsx?from=2026-11-01&to=2026-11-30")
            day_page = await client.get(f"/reports?from={DAY}&to={DAY}")
    assert day_xlsx.status_code == month_xlsx.status_code == day_page.status_code == 200

    # One day, one hall, one window, one channel: the summary and every sheet's one row are one scope.
    book = load_workbook(io.BytesIO(day_xlsx.content))
    values, tracks = summary(book)
    assert values["差评整改率"] == pytest.approx(0.5) and values["整改中差评（期限未到，不计入整改率）"] == 1
    assert tracks["限时整改"]["整改率"] == pytest.approx(0.5), "the per-track rate follows the same rule"
    assert tracks["限时整改"][IN_PROGRESS_LABEL] == 1 and tracks["限时整改"]["采纳差评"] == 3
    for name in SHEETS:
        rows = table(book[name])
        assert len(rows) == 1, (name, rows)
        assert rows[0]["差评整改率"] == pytest.approx(0.5), (name, rows[0])
        assert rows[0][IN_PROGRESS_LABEL] == 1, f"{name}: the case within its deadline is 整改中, not a failure"
    ranking = table(book["镇街排名"])
    assert [(r["镇（街道）"], r["差评整改率"], r[IN_PROGRESS_LABEL]) for r in ranking] == [("金屯镇", 0.5, 1)]

    # The whole month: every sheet's 整改中 adds up to the summary's, and no rate is the old one.
    book = load_workbook(io.BytesIO(month_xlsx.content))
    values, tracks = summary(book)
    # Rectified c4, c5, c9 and "done"; "late" and the unrated complaint c8 (handled as a 差评) failed;
    # "in-time" is 整改中: 4 / 6.
    assert values["差评整改率"] == pytest.approx(4 / 6) and values["整改中差评（期限未到，不计入整改率）"] == 1
    assert tracks["限时整改"]["整改率"] == pytest.approx(2 / 4) and tracks["限时整改"][IN_PROGRESS_LABEL] == 1
    for name in SHEETS:
        rows = table(book[name])
        assert sum(r[IN_PROGRESS_LABEL] for r in rows) == 1, (name, rows)
    day_row = next(r for r in table(book["趋势"]) if r["日"] == DAY)
    assert day_row["差评整改率"] == pytest.approx(0.5)

    # /reports for the day: the headline and the per-track table say the same.
    text = day_page.text
    assert '差评整改率</span><span class="h-value">50.0%' in text and "整改中 1 件" in text
    tracks_html = text.split("差评整改（分类）")[1].split("</table>")[0]
    time_limited = re.search(r"<td>限时整改</td>(.*?)</tr>", tracks_html, re.S)
    assert time_limited, tracks_html
    cells = re.findall(r'<td class="num">([^<]*)</td>', time_limited.group(1))
    assert cells[:4] == ["3", "1", "1", "50.0%"], cells
    assert IN_PROGRESS_LABEL in tracks_html
