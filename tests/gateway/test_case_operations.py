"""Workflow moves, triage corrections, due dates and reminders against the real databases."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from gateway.core import cases as ops
from gateway.core.db.models import Case, CaseEvent, CaseReminder, TriageCorrection
from gateway.core.reminders import ReminderPolicy, sweep
from gateway.core.services import Services
from gateway.core.workflow import WorkflowError
from tests.helpers import local, make_intake


async def status_of(services: Services, code: str) -> str:
    async with services.store.read() as session:
        return (await session.execute(select(Case.status).where(Case.code == code))).scalar_one()


async def test_a_case_goes_from_intake_to_closed(services: Services) -> None:
    code = (await services.ingestor.ingest(make_intake())).case_code
    steps = [("start_verification", None), ("verify_valid", "属实"), ("rectify", None),
             ("reply", "已批评教育当事人"), ("return_visit", "群众表示满意"), ("close", None)]
    for action, note in steps:
        await ops.transition(services.store, code, action, actor="handler:li", note=note)
    case = await ops.show_case(services.store, services.cipher, code)
    assert case["status"] == "closed" and case["verdict"] == "valid"
    assert [e["kind"] for e in case["events"]][-6:] == [a for a, _ in steps]
    assert case["events"][-2]["note"] == "群众表示满意" and case["events"][-2]["actor"] == "handler:li"
    assert case["deadlines"]["result_at"] is not None and case["closed_at"] is not None


async def test_an_illegal_move_changes_nothing(services: Services) -> None:
    code = (await services.ingestor.ingest(make_intake())).case_code
    async with services.store.read() as session:
        before = (await session.execute(select(func.count()).select_from(CaseEvent))).scalar_one()
    with pytest.raises(WorkflowError, match="不能答复群众：只有咨询或建议"):
        await ops.transition(services.store, code, "reply", actor="x", note="n")
    await ops.transition(services.store, code, "start_verification", actor="x")
    await ops.transition(services.store, code, "verify_valid", actor="x", note="属实")
    await ops.transition(services.store, code, "rectify", actor="x")
    await ops.transition(services.store, code, "reply", actor="x", note="已整改")
    with pytest.raises(WorkflowError, match="须先登记回访"):
        await ops.transition(services.store, code, "close", actor="x")
    assert await status_of(services, code) == "replied"
    async with services.store.read() as session:
        after = (await session.execute(select(func.count()).select_from(CaseEvent))).scalar_one()
    assert after == before + 4


async def test_unknown_case(services: Services) -> None:
    with pytest.raises(ops.CaseNotFound, match="no case with tracking code 'JX20990101-0001'"):
        await ops.show_case(services.store, services.cipher, "JX20990101-0001")
    with pytest.raises(ops.CaseNotFound):
        await ops.transition(services.store, "JX20990101-0001", "close", actor="x")


async def test_a_triage_correction_recomputes_deadlines_and_is_kept(services: Services) -> None:
    code = (await services.ingestor.ingest(make_intake(text="材料不全 #immediate #review"))).case_code
    assert await status_of(services, code) == "needs_review"
    calendar = await services.calendar.get()
    result = await ops.reclassify(services.store, calendar, code, "time_limited", "procedure", actor="triage:zhao")
    assert (result.category, result.reason, result.status) == ("time_limited", "procedure", "triaged")
    case = await ops.show_case(services.store, services.cipher, code)
    assert datetime.fromisoformat(case["deadlines"]["first_response_due"]) == local(2026, 11, 30, 17, 0)
    assert datetime.fromisoformat(case["deadlines"]["result_due"]) == local(2026, 12, 2, 17, 0)
    async with services.store.read() as session:
        correction = (await session.execute(select(TriageCorrection))).scalar_one()
    assert (correction.old_label, correction.new_label, correction.new_reason) == (
        "immediate", "time_limited", "procedure")
    assert correction.text == "材料不全 #immediate #review" and correction.actor == "triage:zhao"
    refused = "原因“服务态度”不属于“协调整改”，请从该类别的原因中选择：复杂问题、跨部门协调"
    with pytest.raises(WorkflowError, match=refused):
        await ops.reclassify(services.store, calendar, code, "coordinated", "attitude", actor="t")


async def test_a_triage_correction_without_a_reason_is_refused_and_changes_nothing(services: Services) -> None:
    """``reclassify`` stored a correction with no reason when none was given (``hcp cases
    reclassify CODE LABEL``); every caller now meets the /triage page's rule."""
    code = (await services.ingestor.ingest(make_intake(text="材料不全 #immediate #review"))).case_code
    calendar = await services.calendar.get()
    refused = "请为“限时整改”选择原因：办事流程、办理环节、办事效率。案件的分类没有改动。"
    for reason in (None, ""):
        with pytest.raises(WorkflowError, match=refused):
            await ops.reclassify(services.store, calendar, code, "time_limited", reason, actor="t")
    case = await ops.show_case(services.store, services.cipher, code)
    assert (case["category"], case["status"]) == ("immediate", "needs_review")
    assert "reclassify" not in [event["kind"] for event in case["events"]]
    async with services.store.read() as session:
        assert (await session.execute(select(func.count()).select_from(TriageCorrection))).scalar_one() == 0


def test_the_reason_rule_names_codes_for_the_command_line() -> None:
    assert ops.reason_refusal("coordinated", "complex") is None
    assert ops.reason_refusal("coordinated", None, codes=True) == (
        "请为“协调整改”选择原因：complex（复杂问题）、cross_department（跨部门协调）。案件的分类没有改动。")
    assert ops.reason_refusal("none", "attitude") == (
        "原因“服务态度”不属于“无需整改”，请从该类别的原因中选择：表扬、咨询、建议、无效信息。案件的分类没有改动。")
    assert ops.reason_refusal("none", "typo") is not None and "原因“未知原因”" in ops.reason_refusal("none", "typo")


async def test_case_views_mask_personal_data(services: Services) -> None:
    code = (await services.ingestor.ingest(make_intake())).case_code
    [row] = await ops.list_cases(services.store, services.cipher)
    assert row["contact"]["phone"] == "138****5678" and row["contact"]["name"] == "王**"
    assert row["source_ref"] == "form-token-1" and row["hall"]["name"] == "金屯镇"
    full = await ops.show_case(services.store, services.cipher, code, reveal=True)
    assert full["contact"]["phone"] == "13812345678"


async def test_keyset_pagination(services: Services) -> None:
    for i in range(5):
        await services.ingestor.ingest(make_intake(source_ref=f"t{i}"))
    first = await ops.list_cases(services.store, services.cipher, limit=2)
    async with services.store.read() as session:
        last_id = (await session.execute(select(Case.id).where(Case.code == first[-1]["code"]))).scalar_one()
    second = await ops.list_cases(services.store, services.cipher, limit=2, before_id=last_id)
    assert [r["code"][-4:] for r in first + second] == ["0005", "0004", "0003", "0002"]


async def test_coordinated_due_date_and_its_reminder_fire_once(services: Services) -> None:
    code = (await services.ingestor.ingest(make_intake(text="多部门推诿 #coordinated"))).case_code
    with pytest.raises(WorkflowError, match="只有协调整改"):
        other = (await services.ingestor.ingest(make_intake(source_ref="o"))).case_code
        await ops.set_due_date(services.store, other, local(2026, 12, 10, 17, 0), actor="h")
    await ops.set_due_date(services.store, code, local(2026, 12, 10, 17, 0), actor="handler:li",
                           note="需国土、税务会商")
    policy = ReminderPolicy(warning=timedelta(minutes=30), coordinated_working_days=1)
    calendar = await services.calendar.get()
    assert await sweep(services.store, calendar, policy, now=local(2026, 12, 8, 12, 0)) == 2, \
        "only 'o' overdue: its call back, and its rectification (due the next working day, 30 Nov)"
    raised = await sweep(services.store, calendar, policy, now=local(2026, 12, 9, 9, 0))
    assert raised == 1
    assert await sweep(services.store, calendar, policy, now=local(2026, 12, 9, 10, 0)) == 0, "fires once"
    async with services.store.read() as session:
        kinds = sorted(k for (k,) in (await session.execute(select(CaseReminder.kind))).all())
    assert kinds == ["coordinated_contact", "first_response_overdue", "result_overdue"]


async def test_first_response_warning_then_overdue(services: Services) -> None:
    await services.ingestor.ingest(make_intake())  # immediate, due 11:00
    policy = ReminderPolicy(warning=timedelta(minutes=30), coordinated_working_days=1)
    calendar = await services.calendar.get()
    assert await sweep(services.store, calendar, policy, now=local(2026, 11, 27, 10, 0)) == 0
    assert await sweep(services.store, calendar, policy, now=local(2026, 11, 27, 10, 40)) == 1
    assert await sweep(services.store, calendar, policy, now=local(2026, 11, 27, 11, 5)) == 1
    assert await sweep(services.store, calendar, policy, now=local(2026, 11, 30, 16, 59)) == 0
    assert await sweep(services.store, calendar, policy, now=local(2026, 11, 30, 17, 1)) == 1, \
        "立整立改: the rectification is due when the office closes on the next working day"
