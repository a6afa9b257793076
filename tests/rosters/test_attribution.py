"""Attribution of evaluations to the staff member on duty, at and around shift boundaries."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from gateway.core.db.models import Case, CaseEvent
from gateway.core.db.models_rosters import StaffMember
from gateway.core.rosters import RosterError, add_shift, import_csv, shifts_between
from gateway.core.services import Services
from tests.helpers import local, make_intake


async def _shift(services: Services, employee_no: str, name: str, start: datetime, end: datetime,
                 window: str = "w01") -> None:
    await add_shift(services.store, hall="jintun", window=window, employee_no=employee_no, name=name,
                    starts_at=start, ends_at=end, actor="test")


async def _attributed(services: Services, ref: str, at: datetime, **overrides) -> tuple[str | None, str]:  # type: ignore[no-untyped-def]
    result = await services.ingestor.ingest(make_intake(source_ref=ref, received_at=at, **overrides))
    async with services.store.read() as session:
        case = (await session.execute(select(Case).where(Case.id == result.case_id))).scalar_one()
        name = (await session.get(StaffMember, case.staff_id)).name if case.staff_id else None
    return name, case.staff_attribution


async def test_each_evaluation_goes_to_the_person_on_duty_and_the_boundary_to_the_next_shift(
        services: Services) -> None:
    await _shift(services, "J001", "张敏", local(2026, 11, 30, 8, 30), local(2026, 11, 30, 12, 0))
    await _shift(services, "J002", "刘强", local(2026, 11, 30, 12, 0), local(2026, 11, 30, 17, 30))
    assert await _attributed(services, "a", local(2026, 11, 30, 11, 59)) == ("张敏", "roster")
    assert await _attributed(services, "b", local(2026, 11, 30, 12, 0)) == ("刘强", "roster")
    assert await _attributed(services, "c", local(2026, 11, 30, 17, 30)) == (None, "none")
    assert await _attributed(services, "d", local(2026, 11, 30, 8, 29)) == (None, "none")
    assert await _attributed(services, "e", local(2026, 11, 30, 9, 0), window="w02") == (None, "none")


async def test_two_people_on_duty_make_the_case_say_so_instead_of_guessing(services: Services) -> None:
    await _shift(services, "J001", "张敏", local(2026, 11, 30, 8, 30), local(2026, 11, 30, 12, 0))
    await _shift(services, "J003", "王芳", local(2026, 11, 30, 11, 0), local(2026, 11, 30, 17, 0))
    assert await _attributed(services, "x", local(2026, 11, 30, 11, 30)) == (None, "ambiguous")
    async with services.store.read() as session:
        event = (await session.execute(select(CaseEvent).where(CaseEvent.kind == "attribution"))).scalar_one()
    assert len(event.data["candidates"]) == 2 and "多名工作人员" in event.note


async def test_a_slip_or_call_is_attributed_only_with_the_visit_time(services: Services) -> None:
    await _shift(services, "J001", "张敏", local(2026, 11, 30, 8, 30), local(2026, 11, 30, 12, 0))
    at = local(2026, 11, 30, 10, 0)
    assert await _attributed(services, "p1", at, channel="paper") == (None, "none")
    assert await _attributed(services, "p2", local(2026, 12, 2, 15, 0), channel="phone",
                             visited_at=at) == ("张敏", "roster")
    assert await _attributed(services, "p3", local(2026, 12, 2, 15, 0), channel="web",
                             staff="J001") == ("张敏", "named")


async def test_shift_edits_are_validated(services: Services) -> None:
    with pytest.raises(RosterError, match="晚于上班时间"):
        await _shift(services, "J001", "张敏", local(2026, 11, 30, 12, 0), local(2026, 11, 30, 8, 0))
    with pytest.raises(RosterError, match="没有乡镇 jintun 的窗口 w99"):
        await _shift(services, "J001", "张敏", local(2026, 11, 30, 8, 0), local(2026, 11, 30, 12, 0), window="w99")


async def test_csv_import_keeps_good_rows_reports_bad_ones_and_is_idempotent(services: Services) -> None:
    text = ("hall,window,employee_no,name,starts_at,ends_at\n"
            "jintun,w01,J001,张敏,2026-11-30T08:30+08:00,2026-11-30T12:00+08:00\n"
            "jintun,w01,J002,刘强,2026-11-30T12:00,2026-11-30T17:30+08:00\n"
            "jintun,w09,J003,王芳,2026-11-30T08:30+08:00,2026-11-30T12:00+08:00\n"
            "jintun,w02,J003,王芳,2026-11-30T08:30+08:00,2026-11-30T17:00+08:00\n"
            "jintun,w03,J004,李华,明天上午,2026-11-30T17:00+08:00\n")
    first = await import_csv(services.store, text, actor="test")
    assert (first.added, first.unchanged) == (2, 0)
    assert [line for line, _ in first.errors] == [3, 4, 6]
    # The web import shows these to a clerk: Chinese, with the shape to write.
    assert first.errors[0][1] == "时间 2026-11-30T12:00 缺少时区，应写成 2026-11-30T08:30+08:00 这样"
    assert "w09" in first.errors[1][1]
    assert first.errors[2][1] == "时间 明天上午 格式不对，应写成 2026-11-30T08:30+08:00 这样"
    again = await import_csv(services.store, text, actor="test")
    assert (again.added, again.unchanged) == (0, 2)
    shifts = await shifts_between(services.store, "jintun", local(2026, 11, 30, 0, 0), local(2026, 12, 1, 0, 0))
    assert [(s.window_code, s.name) for s in shifts] == [("w01", "张敏"), ("w02", "王芳")]
    with pytest.raises(RosterError, match="缺少列"):
        await import_csv(services.store, "hall,window\njintun,w01\n", actor="test")


async def test_a_batch_of_evaluations_is_attributed_like_single_ones(services: Services) -> None:
    await _shift(services, "J001", "张敏", local(2026, 11, 30, 8, 30), local(2026, 11, 30, 12, 0))
    await _shift(services, "J002", "刘强", local(2026, 11, 30, 12, 0), local(2026, 11, 30, 17, 30))
    await _shift(services, "J003", "王芳", local(2026, 11, 30, 16, 0), local(2026, 11, 30, 17, 30))
    moments = [local(2026, 11, 30, 11, 59), local(2026, 11, 30, 12, 0), local(2026, 11, 30, 16, 30),
               local(2026, 11, 30, 18, 0)]
    # One shared transaction, as the group commit writes it (called directly so the test never
    # depends on how concurrent tasks happen to be scheduled).
    calendar = await services.calendar.get()
    items = [(intake, services.ingestor.classifier.classify(intake.text), calendar)
             for intake in (make_intake(source_ref=f"g{i}", received_at=at) for i, at in enumerate(moments))]
    results = await services.store.run_write(lambda session: services.ingestor.create_batch(session, items))
    named = await services.ingestor.ingest(make_intake(source_ref="g-named", staff="J003",
                                                       received_at=local(2026, 11, 30, 9, 0)))
    async with services.store.read() as session:
        rows = {case.id: case for case in (await session.execute(select(Case))).scalars()}
        names = {m.id: m.name for m in (await session.execute(select(StaffMember))).scalars()}
    seen = [(names.get(rows[r.case_id].staff_id), rows[r.case_id].staff_attribution) for r in [*results, named]]
    assert seen == [("张敏", "roster"), ("刘强", "roster"), (None, "ambiguous"), (None, "none"), ("王芳", "named")]
