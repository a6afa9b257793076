"""``hcp calendar import``: one year's official schedule as data, bad rows named by line, and every
calendar change recomputing the open deadlines (issue 16, point 6).

The 2027 days below are TEST DATA shaped like a State Council notice, not the official 2027
schedule (unpublished when this was written): the product ships no 2027 schedule.
"""

from __future__ import annotations

import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from gateway.app import create_app
from gateway.core.db.models import Case, CaseEvent
from gateway.core.deadlines import WorkCalendar
from gateway.core.schedule import ScheduleError, parse_csv, parse_schedule, parse_toml
from gateway.core.services import Services
from tests.gateway.test_cli import hcp
from tests.helpers import local, make_intake
from tests.staff import make_staff, signed_in

TOML = """\
year = 2027
source = "测试数据（非官方）"

[holidays]
2027-01-01 = "元旦"
2027-01-02 = "元旦"
2027-01-03 = "元旦"
2027-02-06 = "春节"
2027-02-07 = "春节"
2027-02-08 = "春节"
2027-02-09 = "春节"
2027-02-10 = "春节"
2027-02-11 = "春节"
2027-02-12 = "春节"

[workdays]
2027-02-20 = "春节调休上班"
"""

BAD_TOML = """\
year = 2027

[holidays]
2027-01-02 = "元旦"
2026-12-31 = "跨年"
2027-13-01 = "不存在"
2027-02-08 = ""

[workdays]
2027-02-22 = "周一补班"
2027-01-02 = "冲突"
"""

BAD_CSV = """date,kind,name
2027-01-01,休,元旦
2027-01-02,放,元旦
2027-01-01,休,元旦
2027-02-22,班,周一补班
2027/02/20,班,春节
"""


def test_the_toml_format_of_the_readme() -> None:
    schedule = parse_toml(TOML)
    assert schedule.year == 2027 and schedule.source == "测试数据（非官方）"
    assert len(schedule.holidays) == 10 and schedule.workdays == {date(2027, 2, 20): "春节调休上班"}


def test_bad_toml_rows_are_named_by_line() -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_toml(BAD_TOML)
    problems = caught.value.problems
    assert "line 5: 2026-12-31 不在 2027 年" in problems
    assert any(p.startswith("line 6: '2027-13-01' 不是日期") for p in problems)
    assert any(p.startswith("line 7: 2027-02-08 需要一个名称") for p in problems)
    assert "line 10: 2027-02-22 是周一，补班日应为周六或周日" in problems
    assert "line 11: 2027-01-02 同时列为放假和补班" in problems


def test_bad_csv_rows_are_named_by_line() -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_csv(BAD_CSV)
    assert caught.value.problems == [
        "line 3: 第二列应为“休”或“班”，而不是 '放'",
        "line 4: 2027-01-01 已在 line 2 列出",
        "line 5: 2027-02-22 是周一，补班日应为周六或周日",
        "line 6: '2027/02/20' 不是日期（应为 2027-01-01）",
    ]


def test_a_gbk_csv_from_excel_and_the_file_kind() -> None:
    raw = "date,kind,name\r\n2027-01-01,休,元旦\r\n".encode("gbk")
    assert parse_schedule(raw, "2027.CSV").holidays == {date(2027, 1, 1): "元旦"}
    with pytest.raises(ScheduleError, match="只能导入"):
        parse_schedule(raw, "2027.xlsx")
    with pytest.raises(ScheduleError, match="不是 2028 年"):
        parse_schedule(TOML.encode(), "2027.toml", year=2028)


@settings(max_examples=60, deadline=None)
@given(st.sets(st.dates(date(2027, 1, 1), date(2027, 12, 31)), min_size=1, max_size=40),
       st.sets(st.dates(date(2027, 1, 1), date(2027, 12, 31)).filter(lambda d: d.weekday() >= 5), max_size=8))
def test_csv_round_trip_and_the_calendar_follows_it(off: set[date], extra: set[date]) -> None:
    extra -= off
    lines = ["date,kind,name", *(f"{d},休,假" for d in sorted(off)), *(f"{d},班,补班" for d in sorted(extra))]
    schedule = parse_csv("\n".join(lines))
    assert set(schedule.holidays) == off and set(schedule.workdays) == extra
    calendar = WorkCalendar(overrides={d: w for d, (w, _) in schedule.days().items()}, known_years=frozenset({2027}))
    for day in (date(2027, 1, 1) + timedelta(days=i) for i in range(365)):
        kind = calendar.day_kind(day)
        assert kind.known
        assert kind.workday == (day in extra or (day.weekday() < 5 and day not in off))


# ----- import and recompute ----------------------------------------------------------------------

async def test_import_recomputes_every_open_case_in_one_go(services: Services) -> None:
    eve = local(2026, 12, 31, 10, 0)
    open_case = await services.ingestor.ingest(make_intake(source_ref="a", text="排队 #time_limited", received_at=eve))
    closed = await services.ingestor.ingest(make_intake(source_ref="b", text="谢谢", rating="满意", reasons=[],
                                                        received_at=eve))
    async with services.store.read() as session:
        before = await session.get(Case, open_case.case_id)
    assert before.first_response_due == local(2027, 1, 1, 17, 0) and before.deadline_uncertain, \
        "without the schedule, New Year's Day is taken for a Friday at work"
    result = await services.calendar.import_schedule(parse_toml(TOML), actor="admin:test")
    assert (result.year, result.holidays, result.workdays, result.cases_moved) == (2027, 10, 1, 1)
    async with services.store.read() as session:
        after = await session.get(Case, open_case.case_id)
        events = list((await session.execute(select(CaseEvent).where(
            CaseEvent.kind == "calendar_recomputed"))).scalars())
    assert after.first_response_due == local(2027, 1, 4, 17, 0) and not after.deadline_uncertain
    assert after.result_due == local(2027, 1, 6, 17, 0)
    assert [e.case_id for e in events] == [open_case.case_id] and closed.case_id != open_case.case_id
    assert events[0].note == "导入 2027 年节假日安排" and events[0].data["old"]["uncertain"] is True
    again = await services.calendar.import_schedule(parse_toml(TOML), actor="admin:test")
    assert again.cases_moved == 0, "re-importing the same schedule moves nothing"


async def test_an_override_recomputes_the_open_cases(services: Services) -> None:
    case = await services.ingestor.ingest(make_intake(source_ref="c", text="排队 #time_limited"))  # Fri 27 Nov
    moved = await services.calendar.set_override(date(2026, 11, 30), False, note="县里停电放假", actor="admin:t")
    assert moved == 1
    async with services.store.read() as session:
        row = await session.get(Case, case.case_id)
    assert row.first_response_due == local(2026, 12, 1, 17, 0)
    await services.calendar.remove_override(date(2026, 11, 30), actor="admin:t")
    async with services.store.read() as session:
        row = await session.get(Case, case.case_id)
    assert row.first_response_due == local(2026, 11, 30, 17, 0)


@pytest.mark.parametrize(("instant", "warned"), [
    (datetime(2026, 10, 31, 23, 59, tzinfo=local(2026, 1, 1).tzinfo), None),
    (datetime(2026, 11, 1, 0, 1, tzinfo=local(2026, 1, 1).tzinfo), 2027),
    (datetime(2026, 12, 31, 23, 59, tzinfo=local(2026, 1, 1).tzinfo), 2027),
    (datetime(2027, 1, 1, 0, 1, tzinfo=local(2026, 1, 1).tzinfo), 2027),
])
async def test_staff_pages_warn_from_november_while_next_year_is_missing(
        services: Services, instant: datetime, warned: int | None) -> None:
    await make_staff(services, "chief", ["supervisor"], [])
    app = create_app(services=services, run_workers=False)
    with time_machine.travel(instant, tick=False):
        assert await services.calendar.missing_schedule() == warned
        async with signed_in(app, "chief") as client:
            supervise = await client.get("/supervise")
            console = await client.get("/console")
        await services.calendar.import_schedule(parse_toml(TOML), actor="admin:test")
        assert await services.calendar.missing_schedule() is None
        async with signed_in(app, "chief") as client:
            after = await client.get("/supervise")
    for page in (supervise, console):
        assert page.status_code == 200
        if warned:
            assert f"{warned} 年的法定节假日安排尚未导入" in page.text
            assert "hcp calendar import" not in page.text, "the command is for the admin only"
        else:
            assert 'id="calendar-warning"' not in page.text
    assert 'id="calendar-warning"' not in after.text


def test_the_command_names_bad_rows_and_exits_non_zero(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text(BAD_CSV, encoding="utf-8")
    (tmp_path / "2027.toml").write_text(TOML, encoding="utf-8")
    bad: subprocess.CompletedProcess[str] = hcp(tmp_path, "calendar", "import", "bad.csv")
    assert bad.returncode == 1 and "bad.csv: line 3: 第二列应为“休”或“班”" in bad.stderr
    good = hcp(tmp_path, "calendar", "import", "2027.toml", "--year", "2027")
    assert good.returncode == 0, good.stderr
    assert "2027: 10 day(s) off and 1 make-up workday(s) imported; deadlines of 0 open case(s)" in good.stdout
    check = hcp(tmp_path, "calendar", "check", "2027-01-01")
    assert check.stdout.strip() == "2027-01-01: day off"
