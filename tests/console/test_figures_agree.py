"""The same figure on every page: a case answered without a separate first response is not
overdue anywhere (case list, /supervise, the overdue filter, /reports, the reminder job)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from gateway.app import create_app
from gateway.core.db.models import Case, CaseReminder
from gateway.core.domain import CaseStatus
from gateway.core.reminders import ReminderPolicy, sweep
from gateway.core.services import Services
from tests.helpers import local, make_intake
from tests.staff import make_staff, signed_in

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


async def _case(services: Services, ref: str) -> str:
    result = await services.ingestor.ingest(make_intake(source_ref=ref, text="材料问题 #time_limited",
                                                        received_at=local(2026, 7, 15, 10, 0)))
    return result.case_code


def _row(page: str, code: str) -> str:
    match = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{code}(?:(?!</tr>).)*</tr>", page, re.S)
    return match.group(0) if match else ""


@time_machine.travel(NOW, tick=False)
async def test_a_case_answered_in_one_step_is_overdue_nowhere(services: Services) -> None:
    """Answered on the day after receipt without a separate first response (``result_at`` set,
    ``first_responded_at`` empty): the first-response deadline was met by the answer."""
    answered = await _case(services, "t-answered")
    forgotten = await _case(services, "t-forgotten")
    async with services.store.write() as session:
        for code in (answered, forgotten):
            case = (await session.execute(select(Case).where(Case.code == code))).scalar_one()
            case.first_response_due = local(2026, 7, 16, 17, 0)
            case.result_due = local(2026, 7, 20, 17, 0)
            case.first_responded_at = None
            if code == answered:
                case.result_at = local(2026, 7, 16, 9, 0)
                case.status = CaseStatus.REPLIED.value
    await make_staff(services, "boss", ["supervisor"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "boss") as client:
        listed = (await client.get("/cases")).text
        only_overdue = (await client.get("/cases?overdue=1")).text
        supervise = (await client.get("/supervise")).text
        reports = (await client.get("/reports")).text
    assert "已超时" not in _row(listed, answered), _row(listed, answered)
    assert "已超时" in _row(listed, forgotten)
    assert answered not in only_overdue and forgotten in only_overdue
    due_soon = re.search(r'id="due-soon">.*?</table>', supervise, re.S).group(0)
    assert answered not in due_soon and forgotten in due_soon
    town = re.search(r'<table class="grid" id="overdue-by-town">.*?</table>', supervise, re.S).group(0)
    assert re.search(r'金屯镇</a></td><td class="num">2</td><td class="num late">1</td>', town), town
    late = re.search(r"超期案件（当前）.*?</table>", reports, re.S).group(0)
    assert answered not in late and forgotten in late

    policy = ReminderPolicy(warning=timedelta(hours=2), coordinated_working_days=5)
    await sweep(services.store, await services.calendar.get(), policy, now=NOW)
    async with services.store.read() as session:
        raised = (await session.execute(select(Case.code, CaseReminder.kind)
                                        .join(Case, Case.id == CaseReminder.case_id))).all()
    assert (answered, "first_response_overdue") not in raised, "a deadline already met is not reminded"
    assert (forgotten, "first_response_overdue") in raised
