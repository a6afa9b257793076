"""Issue 16: the case lifecycle follows the county rules on every path (ingest, console, CLI, jobs).

Time is frozen with time-machine wherever "now" matters, so nothing here depends on today's date.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select

from gateway.app import create_app
from gateway.core import cases as ops
from gateway.core.db.models import Case, CaseEvent, OutboxMessage
from gateway.core.services import Services
from gateway.core.workflow import TRANSITIONS, WorkflowError
from gateway.phone.return_visits import record_visit
from tests.helpers import enable_sms, local, make_intake
from tests.staff import make_staff, signed_in

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
FRIDAY = local(2026, 11, 27, 10, 0)


async def _ingest(services: Services, **fields: object) -> str:
    return (await services.ingestor.ingest(make_intake(**fields))).case_code


async def _case(services: Services, code: str) -> Case:
    async with services.store.read() as session:
        return (await session.execute(select(Case).where(Case.code == code))).scalar_one()


async def _walk(services: Services, code: str, *actions: str) -> None:
    for action in actions:
        await ops.transition(services.store, code, action, actor="t", note="说明")


async def test_a_bad_rating_whose_text_is_a_question_is_verified_not_closed(services: Services) -> None:
    """非常不满意 with "请问办残疾证要带什么材料？" was closed on arrival: never verified, answered or visited."""
    code = await _ingest(services, source_ref="q1", text="请问办残疾证要带什么材料？ #inquiry", rating="非常不满意")
    case = await _case(services, code)
    assert (case.status, case.category, case.reason) == ("triaged", "none", "inquiry")
    assert case.first_response_due == local(2026, 11, 30, 17, 0), "answered on the 限时整改 clock"
    assert case.result_due == local(2026, 12, 2, 17, 0)
    with pytest.raises(WorkflowError, match="差评或投诉须先核实"):
        await ops.transition(services.store, code, "close", actor="t")
    await _walk(services, code, "start_verification", "verify_valid", "rectify", "reply")
    with pytest.raises(WorkflowError, match="实名差评须先登记回访"):
        await ops.transition(services.store, code, "close", actor="t")


async def test_an_inquiry_is_answered_through_the_cli_and_the_first_response_recorded(services: Services) -> None:
    """``hcp cases move CODE reply`` left a case 已超时 on /supervise: every reply records the first response."""
    code = await _ingest(services, source_ref="q2", text="来电人咨询需要带哪些材料，希望回电告知 #inquiry",
                         rating=None, reasons=[], channel="phone")
    case = await _case(services, code)
    assert case.status == "triaged" and case.first_response_due == local(2026, 11, 30, 17, 0)
    assert case.result_due is None
    with pytest.raises(WorkflowError, match="咨询或建议须先答复"):
        await ops.transition(services.store, code, "close", actor="t")
    with time_machine.travel(local(2026, 11, 30, 9, 15), tick=False):
        assert await ops.transition(services.store, code, "reply", actor="cli", note="已电话告知材料清单") == "replied"
    case = await _case(services, code)
    assert case.first_responded_at == local(2026, 11, 30, 9, 15)
    assert case.result_at is None, "an answer to a question is no rectification result"
    assert await ops.transition(services.store, code, "close", actor="t") == "closed"


async def test_a_case_replied_from_the_cli_is_not_overdue_on_supervise(services: Services) -> None:
    code = await _ingest(services, source_ref="q3", text="排队太久 #time_limited")
    await _walk(services, code, "start_verification", "verify_valid", "rectify")
    with time_machine.travel(local(2026, 11, 27, 15, 0), tick=False):
        await ops.transition(services.store, code, "reply", actor="cli", note="已整改")
    await make_staff(services, "chief", ["supervisor"], [])
    app = create_app(services=services, run_workers=False)
    with time_machine.travel(local(2026, 12, 3, 9, 0), tick=False):
        async with signed_in(app, "chief") as client:
            page = await client.get("/supervise?hours=720")
    assert page.status_code == 200
    assert code not in page.text.split('id="overdue-by-town"')[0], "answered in time: not in the due/overdue list"


@pytest.mark.parametrize(("text", "rating", "closed"), [
    ("服务很好，谢谢 #praise", "满意", True),
    ("asdfgh #spam", None, True),
    ("", "非常满意", True),
    ("建议大厅多放几把椅子 #suggestion", None, False),
    ("请问周六上班吗 #inquiry", "满意", False),
    ("谢谢 #praise", "不满意", False),
])
async def test_only_praise_spam_and_empty_items_close_without_a_person(
        services: Services, text: str, rating: str | None, closed: bool) -> None:
    reasons = ["attitude"] if rating in ("不满意", "非常不满意") else []
    code = await _ingest(services, source_ref=f"c-{text}-{rating}", text=text, rating=rating, reasons=reasons)
    assert ((await _case(services, code)).status == "closed") is closed


async def test_a_suggestion_is_acknowledged_with_its_reply_date(services: Services) -> None:
    enable_sms(services.settings)  # the acknowledgement is queued only when an SMS can leave
    code = await _ingest(services, source_ref="s1", text="建议大厅多放几把椅子 #suggestion", rating=None, reasons=[])
    case = await _case(services, code)
    assert case.status == "triaged" and case.first_response_due == local(2026, 12, 4, 17, 0)
    async with services.store.read() as session:
        ack = (await session.execute(select(OutboxMessage).where(OutboxMessage.case_id == case.id))).scalar_one()
    assert "感谢您的建议" in ack.body and "2026-12-04 17:00 前答复您" in ack.body


async def test_an_unreachable_citizen_gets_a_visit_exception_after_the_attempts(services: Services) -> None:
    code = await _ingest(services, source_ref="v1", text="态度差 #time_limited")
    await _walk(services, code, "start_verification", "verify_valid", "rectify", "reply")
    for attempt in range(3):
        with pytest.raises(WorkflowError, match=f"回访 3 次未接通后才能登记回访未果（目前 {attempt} 次）"):
            await ops.transition(services.store, code, "visit_exception", actor="t", note="打不通")
        await record_visit(services, code, reached=False, who="operator:li", note="无人接听")
    with pytest.raises(WorkflowError, match="实名差评须先登记回访"):
        await ops.transition(services.store, code, "close", actor="t")
    await ops.transition(services.store, code, "visit_exception", actor="t", note="三次未接通，号码疑已停机")
    assert await ops.transition(services.store, code, "close", actor="t") == "closed"


@pytest.mark.parametrize("verdict", ["verify_not_valid", "verify_malicious"])
async def test_a_rejected_bad_review_can_be_told_to_the_citizen(services: Services, verdict: str) -> None:
    code = await _ingest(services, source_ref=f"r-{verdict}", text="乱写 #immediate")
    await _walk(services, code, "start_verification", verdict, "reply")
    case = await _case(services, code)
    assert case.status == "replied" and case.first_responded_at is not None
    assert await ops.transition(services.store, code, "close", actor="t") == "closed"


async def test_a_coordinated_case_without_a_date_shows_on_supervise_until_one_is_set(services: Services) -> None:
    code = await _ingest(services, source_ref="k1", text="多部门推诿 #coordinated")
    case = await _case(services, code)
    assert case.result_due == local(2026, 12, 11, 17, 0) and case.due_provisional
    await make_staff(services, "chief", ["supervisor"], [])
    app = create_app(services=services, run_workers=False)
    with time_machine.travel(local(2026, 11, 28, 9, 0), tick=False):
        async with signed_in(app, "chief") as client:
            before = await client.get("/supervise")
            await ops.set_due_date(services.store, code, local(2026, 12, 18, 17, 0), actor="handler:li")
            after = await client.get("/supervise")
    undated = before.text.split('id="undated"')[1]
    assert code in undated and "未设定期限" in undated
    assert code not in after.text.split('id="undated"')[1]
    assert not (await _case(services, code)).due_provisional


async def test_an_inquiry_appears_on_supervise_until_answered(services: Services) -> None:
    code = await _ingest(services, source_ref="q4", text="请问社保卡怎么补办 #inquiry", rating=None, reasons=[])
    await make_staff(services, "chief", ["supervisor"], [])
    app = create_app(services=services, run_workers=False)
    with time_machine.travel(local(2026, 11, 27, 11, 0), tick=False):
        async with signed_in(app, "chief") as client:
            before = await client.get("/supervise")
            await ops.transition(services.store, code, "reply", actor="t", note="已告知")
            after = await client.get("/supervise")
    assert code in before.text.split('id="questions"')[1].split("</table>")[0]
    assert code not in after.text.split('id="questions"')[1].split("</table>")[0]


# ----- closing lives in one place ------------------------------------------------------------------

CLOSING_ACTIONS = sorted({t.action for t in TRANSITIONS if t.target.value == "closed"})


def test_only_the_state_machine_and_ingest_write_a_closed_case() -> None:
    """Every way of closing (console, CLI, API, jobs) calls ``apply_transition``: no other module
    assigns a case's status or ``closed_at``.  The appeal ruling sets a verdict state (never 办结)."""
    assignment = re.compile(r"\bcase\.(status|closed_at)\s*=(?!=)|\bclosed_at=now if plan")
    allowed = {"core/workflow.py", "core/ingest.py", "console/actions.py"}
    offenders = []
    for path in GATEWAY.rglob("*.py"):
        relative = path.relative_to(GATEWAY).as_posix()
        text = path.read_text("utf-8")
        if assignment.search(text) and relative not in allowed:
            offenders.append(relative)
    assert offenders == []
    actions = (GATEWAY / "console" / "actions.py").read_text("utf-8")
    assert actions.count("case.status = ") == 1 and "case.status = claim" in actions
    assert "if claim not in APPEAL_VERDICTS" in actions, "the appeal can only set 不属实 or 恶意"
    assert CLOSING_ACTIONS == ["close"]


async def test_every_closing_path_refuses_an_unvisited_real_name_bad_review(services: Services) -> None:
    """The console form, the CLI command and the workflow API each try every closing action."""
    code = await _ingest(services, source_ref="p1", text="态度差 #time_limited")
    await _walk(services, code, "start_verification", "verify_valid", "rectify", "reply")
    await make_staff(services, "boss", ["handler", "supervisor"], ["jintun"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "boss") as client:
        for action in CLOSING_ACTIONS:
            refused = await client.post_form(f"/cases/{code}/move", {"action": action, "note": "办结"})
            assert refused.status_code == 409 and "回访" in refused.text
            with pytest.raises(WorkflowError, match="实名差评须先登记回访"):
                await ops.transition(services.store, code, action, actor="cli", note="办结")
    case = await _case(services, code)
    assert case.status == "replied" and case.closed_at is None
    async with services.store.read() as session:
        kinds = list((await session.execute(select(CaseEvent.kind).where(CaseEvent.case_id == case.id))).scalars())
    assert "close" not in kinds


async def test_deadlines_of_a_case_received_in_a_year_the_calendar_does_not_know(services: Services) -> None:
    """A 差评 on New Year's Eve 2026 at 23:59: its deadlines reach into 2027 (weekdays, flagged)."""
    eve = datetime(2026, 12, 31, 23, 59, tzinfo=FRIDAY.tzinfo)
    with time_machine.travel(eve, tick=False):
        code = await _ingest(services, source_ref="y1", text="排队太久 #time_limited", received_at=eve)
    case = await _case(services, code)
    assert case.first_response_due == local(2027, 1, 1, 17, 0) and case.deadline_uncertain


# ----- reopening (重新办理) --------------------------------------------------------------------------

async def test_a_supervisor_reopens_a_closed_case_with_a_reason(services: Services) -> None:
    from gateway.core.db.models_staff import AuditEntry
    from gateway.results import rollup
    from gateway.results.figures import Filters, Names, Period, compute, total

    code = await _ingest(services, source_ref="ro1", text="排队太久 #time_limited", contact={"phone": "13812345678"})
    await _walk(services, code, "start_verification", "verify_valid", "rectify", "reply", "close")
    with pytest.raises(WorkflowError, match="hcp cases reopen"):
        await ops.transition(services.store, code, "reopen_closed", actor="cli", note="x")
    await make_staff(services, "li", ["handler"], ["jintun"])
    await make_staff(services, "chief", ["supervisor"], [])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "li") as handler:
        page = await handler.get(f"/cases/{code}")
        refused = await handler.post_form(f"/cases/{code}/move", {"action": "reopen_closed", "note": "再办"})
    assert page.status_code == 200 and 'value="reopen_closed"' not in page.text
    assert refused.status_code == 403
    monday = local(2026, 12, 7, 16, 0)
    with time_machine.travel(monday, tick=False):
        async with signed_in(app, "chief") as chief:
            offered = await chief.get(f"/cases/{code}")
            empty = await chief.post_form(f"/cases/{code}/move", {"action": "reopen_closed", "note": " "})
            done = await chief.post_form(f"/cases/{code}/move", {"action": "reopen_closed",
                                                                 "note": "群众反映整改后问题复现"})
    assert 'value="reopen_closed"' in offered.text and empty.status_code == 409 and "理由" in empty.text
    assert done.status_code == 303
    case = await _case(services, code)
    assert (case.status, case.reopen_count, case.closed_at, case.result_at) == ("triaged", 1, None, None)
    assert case.reopened_at == monday
    assert case.first_response_due == local(2026, 12, 8, 17, 0), "restarted: 1 working day from the reopening"
    assert case.result_due == local(2026, 12, 10, 17, 0)
    async with services.store.read() as session:
        events = list((await session.execute(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                             .order_by(CaseEvent.id))).scalars())
        audit = (await session.execute(select(AuditEntry).where(
            AuditEntry.action == "case:reopen_closed"))).scalar_one()
    assert [e.kind for e in events][-2:] == ["reopen_closed", "deadlines_restarted"]
    assert events[-2].note == "群众反映整改后问题复现" and events[-2].data["previous"]["closed_at"]
    assert audit.username == "chief" and audit.note == "群众反映整改后问题复现"
    # Handled again to the end, it is still one evaluation and one 差评 of the month it came in.
    await _walk(services, code, "start_verification", "verify_valid", "rectify", "reply", "close")
    await rollup.refresh(services.store, "Asia/Shanghai")
    async with services.store.read() as session:
        names = await Names.load(session)
        counts = total(await compute(session, Filters(Period.month_of(FRIDAY.date())), [], names=names))
    assert (counts["evaluations"], counts["bad_received"], counts["rectified_time_limited"]) == (1, 1, 1)


async def test_an_unrated_real_name_complaint_is_on_the_return_visit_list(services: Services) -> None:
    """The hotline's list offers what the workflow waits for: an unrated complaint, answered."""
    from gateway.phone.return_visits import open_callbacks

    code = await _ingest(services, source_ref="u1", text="来电反映办证跑了三趟 #time_limited", rating=None,
                         reasons=[], channel="phone")
    rejected = await _ingest(services, source_ref="u2", text="乱说 #time_limited", rating=None, reasons=[])
    await _walk(services, code, "start_verification", "verify_valid", "rectify", "reply")
    await _walk(services, rejected, "start_verification", "verify_not_valid", "reply")
    listed = [e.case_code for e in await open_callbacks(services, now=local(2026, 11, 30, 9, 0))
              if e.kind == "return_visit"]
    assert listed == [code]
    with pytest.raises(WorkflowError, match="实名差评须先登记回访"):
        await ops.transition(services.store, code, "close", actor="t")
    assert await ops.transition(services.store, rejected, "close", actor="t") == "closed"


async def test_a_handler_answers_an_inquiry_on_the_case_page(services: Services) -> None:
    enable_sms(services.settings)  # the form offers SMS only when an SMS can leave and a phone is known
    code = await _ingest(services, source_ref="q5", text="请问残疾证要带什么材料？ #inquiry", rating=None, reasons=[])
    await make_staff(services, "li", ["handler"], ["jintun"])
    app = create_app(services=services, run_workers=False)
    with time_machine.travel(local(2026, 11, 27, 14, 0), tick=False):
        async with signed_in(app, "li") as client:
            page = await client.get(f"/cases/{code}")
            sent = await client.post_form(f"/cases/{code}/reply", {"channel": "sms", "text": "请带身份证和户口本"})
    assert "答复咨询或建议" in page.text and sent.status_code == 303
    case = await _case(services, code)
    assert case.status == "replied" and case.first_responded_at == local(2026, 11, 27, 14, 0)
    async with services.store.read() as session:
        kinds = sorted((await session.execute(select(OutboxMessage.kind).where(
            OutboxMessage.case_id == case.id))).scalars())
    assert kinds == ["acknowledgement", "reply"]
