"""The results pages at every month of two years and at the turn of the year (time frozen).

``/public`` answered 500 for every December: the "following month" of 12 was month 13.  These tests
freeze the clock with time-machine, so they do not depend on today's date.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from gateway.app import create_app
from gateway.core.months import add_months, first_of_month, last_of_month
from gateway.core.services import Services
from tests.results import dataset
from tests.staff import anonymous_client, make_staff, signed_in

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YEAR_INSTANTS = [
    datetime(2026, 12, 31, 23, 59, tzinfo=SHANGHAI),
    datetime(2027, 1, 1, 0, 1, tzinfo=SHANGHAI),
]


# ----- the helper --------------------------------------------------------------------------------

def test_add_months_crosses_years_both_ways() -> None:
    assert add_months(date(2026, 12, 31), 1) == date(2027, 1, 1)
    assert add_months(date(2026, 12, 1), -1) == date(2026, 11, 1)
    assert add_months(date(2027, 1, 15), -1) == date(2026, 12, 1)
    assert add_months(date(2026, 11, 30), -11) == date(2025, 12, 1)
    assert add_months(date(2026, 1, 1), -12) == date(2025, 1, 1)
    assert add_months(date(2026, 1, 1), 24) == date(2028, 1, 1)
    assert last_of_month(date(2028, 2, 3)) == date(2028, 2, 29)
    assert last_of_month(date(2027, 2, 3)) == date(2027, 2, 28)
    assert last_of_month(date(2026, 12, 3)) == date(2026, 12, 31)
    with pytest.raises(ValueError):
        add_months(date(1, 1, 1), -1)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)), st.integers(-2400, 2400))
def test_add_months_is_a_bijection_on_month_indexes(day: date, step: int) -> None:
    moved = add_months(day, step)
    assert moved.day == 1
    assert (moved.year - day.year) * 12 + moved.month - day.month == step
    assert add_months(moved, -step) == first_of_month(day)
    end = last_of_month(moved)
    assert end.month == moved.month and (end.toordinal() + 1 == add_months(moved, 1).toordinal())


# ----- the pages ---------------------------------------------------------------------------------

def _months(first: date, count: int) -> list[date]:
    return [add_months(first, i) for i in range(count)]


async def test_every_public_month_of_two_years_renders(services: Services) -> None:
    """Each month of 2026 and 2027 (a year chinese-calendar does not know), with working links."""
    await dataset.load(services)
    app = create_app(services=services, run_workers=False)
    with time_machine.travel(datetime(2027, 12, 31, 23, 59, tzinfo=SHANGHAI), tick=False):
        async with anonymous_client(app) as client:
            for month in _months(date(2026, 1, 1), 24):
                page = await client.get(f"/public?month={month:%Y-%m}")
                assert page.status_code == 200, (month, page.text[:300])
                assert f"<strong>{month.year}年{month.month}月</strong>" in page.text
                previous = add_months(month, -1)
                assert f'href="/public?month={previous:%Y-%m}"' in page.text
                following = add_months(month, 1)
                if month < date(2027, 12, 1):
                    assert f'href="/public?month={following:%Y-%m}"' in page.text, month
                else:
                    assert "下个月" not in page.text, "no link into the future"
            november = await client.get("/public?month=2026-11")
            far = await client.get("/public?month=0001-01")
    assert "57.1%" in november.text, "the hand-made November figures are still shown"
    assert far.status_code == 400 and "月份应在" in far.text


@pytest.mark.parametrize("instant", NEW_YEAR_INSTANTS, ids=["dec31-2359", "jan01-0001"])
async def test_public_screen_and_excel_at_the_turn_of_the_year(services: Services, instant: datetime) -> None:
    await dataset.load(services)
    await make_staff(services, "chief", ["supervisor"], [])
    app = create_app(services=services, run_workers=False)
    local_today = instant.date()
    with time_machine.travel(instant, tick=False):
        async with anonymous_client(app) as client:
            public = await client.get("/public")
            december = await client.get("/public?month=2026-12")
            screen = await client.get("/screen/jintun")
        async with signed_in(app, "chief") as staff:
            reports = await staff.get("/reports")
            xlsx = await staff.get("/reports/export.xlsx")
            year = await staff.get("/reports/export.xlsx?from=2026-01-01&to=2026-12-31")
    assert public.status_code == 200, public.text[:300]
    assert f"<strong>{local_today.year}年{local_today.month}月</strong>" in public.text
    assert december.status_code == 200 and 'href="/public?month=2026-11"' in december.text
    if local_today.month == 12:
        assert "下个月" not in december.text
    else:
        assert 'href="/public?month=2027-01"' in december.text
    assert screen.status_code == 200 and "金屯镇为民服务大厅" in screen.text
    assert f"{local_today:%Y-%m-%d}" in screen.text or f"{local_today.year}年" in screen.text
    assert reports.status_code == 200 and f"{first_of_month(local_today)}" in reports.text
    for response in (xlsx, year):
        assert response.status_code == 200
        workbook = load_workbook(io.BytesIO(response.content), read_only=True)
        assert "趋势" in workbook.sheetnames
    year_book = load_workbook(io.BytesIO(year.content))
    trend = [row[0] for row in year_book["趋势"].iter_rows(values_only=True)]
    assert any("2026年11月" in str(cell) for cell in trend), trend
