"""Deadline reminders: warn before a first-response deadline, flag it when missed, and remind the
handler of a 协调整改 case to contact the citizen before its due date.

Each reminder is a ``case_reminders`` row with a unique ``(case, kind, due_at)`` key, written with
``ON CONFLICT DO NOTHING``: however many workers sweep at once, each reminder fires once, and a
changed due date (a new ``due_at``) fires again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.db.dialect import insert_for
from gateway.core.db.models import Case, CaseReminder
from gateway.core.db.store import Store
from gateway.core.deadlines import WorkCalendar, coordinated_reminder
from gateway.core.domain import CaseStatus, Category
from gateway.core.overdue import FIRST_RESPONSE_PENDING
from gateway.core.workflow import EventSpec, add_events

FINISHED = (CaseStatus.CLOSED.value, CaseStatus.NOT_VALID.value, CaseStatus.MALICIOUS.value)
NOTES = {
    "first_response_warning": "首次回复即将到期",
    "first_response_overdue": "首次回复已超时",
    "result_overdue": "整改结果答复已超时",
    "coordinated_contact": "协调整改：请在到期日前联系群众，说明理由和新的整改期限",
}


@dataclass(frozen=True, slots=True)
class ReminderPolicy:
    warning: timedelta
    coordinated_working_days: int


async def _raise(session: AsyncSession, case: Case, kind: str, due_at: datetime, now: datetime) -> bool:
    inserted = (await session.execute(
        insert_for(session)(CaseReminder)
        .values(case_id=case.id, kind=kind, due_at=due_at, raised_at=now)
        .on_conflict_do_nothing(index_elements=[CaseReminder.case_id, CaseReminder.kind, CaseReminder.due_at])
        .returning(CaseReminder.id)
    )).scalar_one_or_none()
    if inserted is None:
        return False
    await session.run_sync(add_events, case.id, now, [EventSpec(
        kind="reminder", actor="system:deadlines", note=NOTES[kind],
        data={"reminder": kind, "due_at": due_at.isoformat()})])
    return True


async def sweep(store: Store, calendar: WorkCalendar, policy: ReminderPolicy, now: datetime | None = None) -> int:
    """Raise every reminder that is due; return how many were new."""
    now = now or datetime.now(UTC)
    horizon = now + policy.warning
    raised = 0
    async with store.write() as session:
        first_due = (
            select(Case)
            .where(Case.status.not_in(FINISHED), FIRST_RESPONSE_PENDING,
                   Case.first_response_due.is_not(None), Case.first_response_due <= horizon)
        )
        for case in (await session.execute(first_due)).scalars():
            due = case.first_response_due
            assert due is not None
            kind = "first_response_overdue" if due <= now else "first_response_warning"
            raised += await _raise(session, case, kind, due, now)
        result_due = select(Case).where(
            Case.status.not_in((*FINISHED, CaseStatus.REPLIED.value, CaseStatus.RETURN_VISITED.value)),
            Case.result_due.is_not(None),
            or_(and_(Case.category == Category.COORDINATED.value,
                     Case.result_due <= now + timedelta(days=policy.coordinated_working_days * 2 + 14)),
                Case.result_due <= now),
        )
        for case in (await session.execute(result_due)).scalars():
            due = case.result_due
            assert due is not None
            if due <= now:
                raised += await _raise(session, case, "result_overdue", due, now)
            elif case.category == Category.COORDINATED.value:
                remind_at = coordinated_reminder(due, calendar, policy.coordinated_working_days).at
                if remind_at <= now:
                    raised += await _raise(session, case, "coordinated_contact", due, now)
    return raised
