"""Return visits and the call-back list on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from gateway.auth.roles import Principal
from gateway.core import cases as case_ops
from gateway.core.cases import CaseNotFound
from gateway.core.db.models import Case, CaseEvent
from gateway.core.db.models_phone import ReturnVisit
from gateway.core.db.models_staff import AuditEntry
from gateway.core.services import Services
from gateway.core.workflow import WorkflowError
from gateway.phone.common import countdown
from gateway.phone.return_visits import Questionnaire, ScopeError, open_callbacks, record_visit, visits_of
from tests.helpers import make_intake

NOW = datetime.now(UTC)


async def _replied_case(services: Services, ref: str, **overrides: object) -> str:
    result = await services.ingestor.ingest(make_intake(source_ref=ref, received_at=NOW - timedelta(hours=3),
                                                        text="手续繁琐 #time_limited", **overrides))
    for action, note in (("start_verification", None), ("verify_valid", "属实"), ("rectify", None),
                         ("reply", "已整改")):
        await case_ops.transition(services.store, result.case_code, action, actor="handler", note=note)
    return result.case_code


def test_countdown_words_and_levels() -> None:
    now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    assert countdown(now + timedelta(minutes=45), now).text == "剩余 45 分钟"
    assert countdown(now + timedelta(minutes=45), now).level == "soon"
    assert countdown(now + timedelta(minutes=20), now).level == "urgent"
    assert countdown(now - timedelta(hours=2, minutes=5), now).text == "已超时 2 小时 5 分钟"
    assert countdown(now - timedelta(hours=2), now).level == "overdue"
    assert countdown(now + timedelta(hours=30), now).text == "剩余 1 天 6 小时"
    assert countdown(now + timedelta(seconds=20), now).text == "剩余 1 分钟"


async def test_a_reached_visit_moves_a_replied_case_to_return_visited(services: Services) -> None:
    code = await _replied_case(services, "rv-1")
    listed = await open_callbacks(services)
    assert [(e.kind, e.case_code, e.phone, e.name) for e in listed] == [("return_visit", code, "138****5678", "王**")]
    missed = await record_visit(services, code, reached=False, who="op1", note="无人接听")
    assert (missed.reached, missed.transitioned, missed.status) == (False, False, "replied")
    [entry] = await open_callbacks(services)
    assert entry.attempts == 1 and entry.last_note == "无人接听" and entry.retry_at is not None
    with pytest.raises(ValueError, match="未接通的回访不能填写满意度"):
        await record_visit(services, code, reached=False, who="op1", satisfied=True)
    with pytest.raises(ValueError, match="政策知悉度只能是 1 到 5 分"):
        await record_visit(services, code, reached=True, who="op1", questionnaire=Questionnaire(policy_awareness=6))
    done = await record_visit(services, code, reached=True, who="op1", satisfied=True,
                              questionnaire=Questionnaire(problem_solved="yes", rectification_satisfaction="满意",
                                                          policy_awareness=4, convenience=5, service_satisfaction=5))
    assert (done.transitioned, done.status, done.purpose) == (True, "return_visited", "return_visit")
    assert await open_callbacks(services) == []
    visits = await visits_of(services, code)
    assert [(v["reached"], v["satisfied"]) for v in visits] == [(False, None), (True, True)]
    assert visits[1]["rectification_satisfaction"] == "satisfied" and visits[1]["convenience"] == 5
    async with services.store.read() as session:
        events = [(e.kind, e.note) for e in (await session.execute(select(CaseEvent).order_by(CaseEvent.id))).scalars()]
        audits = len((await session.execute(select(AuditEntry).where(
            AuditEntry.action == "phone:return_visit"))).all())
    assert events[-2] == ("return_visit_attempt", "无人接听")
    assert events[-1] == ("return_visit", "回访已接通，群众表示满意") and audits == 2
    # A closed case takes no more visits; an unknown code is named.
    await case_ops.transition(services.store, code, "close", actor="handler")
    with pytest.raises(WorkflowError, match="已办结"):
        await record_visit(services, code, reached=True, who="op1")
    with pytest.raises(CaseNotFound):
        await record_visit(services, "JX20990101-0001", reached=True, who="op1")


async def test_immediate_call_backs_come_first_and_stop_the_clock(services: Services) -> None:
    later = await _replied_case(services, "rv-2")
    urgent = (await services.ingestor.ingest(make_intake(
        source_ref="imm-1", received_at=NOW - timedelta(minutes=30), contact={"phone": "13900001111"}))).case_code
    entries = await open_callbacks(services)
    assert [e.case_code for e in entries] == [urgent, later]  # the 1-hour call back is due first
    assert {e.kind for e in entries} == {"immediate", "return_visit"}
    assert sorted(e.due_at for e in entries) == [e.due_at for e in entries]
    result = await record_visit(services, urgent, reached=True, who="op1", note="已电话致歉，马上整改")
    assert (result.purpose, result.first_response, result.transitioned) == ("call_back", True, False)
    assert [e.case_code for e in await open_callbacks(services)] == [later]
    async with services.store.read() as session:
        case = (await session.execute(select(Case).where(Case.code == urgent))).scalar_one()
        visit = (await session.execute(select(ReturnVisit).where(ReturnVisit.case_id == case.id))).scalar_one()
    assert case.first_responded_at is not None and case.status == "triaged" and visit.who == "op1"


async def test_town_scope_applies_to_visits(services: Services) -> None:
    code = await _replied_case(services, "rv-3")
    handler = Principal(id=1, username="h", display_name="h", roles=frozenset({"handler"}),
                        towns=frozenset({"mandong"}))
    with pytest.raises(ScopeError):
        await record_visit(services, code, reached=True, who=handler)
    assert await open_callbacks(services, town_filter=frozenset({"mandong"})) == []
    assert len(await open_callbacks(services, town_filter=frozenset({"jintun"}))) == 1


async def test_a_call_back_retry_is_scheduled_within_office_hours(services: Services) -> None:
    """Not reached at 16:30 on a Friday: the next try is Monday at opening, not 18:30 that evening."""
    from gateway.phone.calls import raise_task
    from gateway.phone.return_visits import record_task_attempt

    friday_late = datetime(2026, 11, 27, 8, 30, tzinfo=UTC)  # 16:30 in Shanghai
    monday_opening = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
    with time_machine.travel(friday_late, tick=False):
        code = await _replied_case(services, "rv-late")
        await record_visit(services, code, reached=False, who="op1", note="无人接听")
        calendar = await services.calendar.get()
        async with services.store.write() as session:
            await session.run_sync(lambda sync: raise_task(
                sync, services.cipher, calendar, kind="missed", dedup_key="late-call", phone="13812345678",
                called_at=friday_late - timedelta(hours=2), now=friday_late))
        [task] = [e for e in await open_callbacks(services) if e.task_id]
        await record_task_attempt(services, task.task_id, reached=False, who="op1")
        retries = {e.ref.split(":")[0]: e.retry_at for e in await open_callbacks(services)}
    assert retries == {"case": monday_opening, "task": monday_opening}
