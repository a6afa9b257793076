"""Deadline reminders: warn before a first-response deadline, flag it when missed, and remind the
handler of a 协调整改 case to contact the citizen before its due date.

Each reminder is a ``case_reminders`` row with a unique ``(case, kind, due_at)`` key, written with
``ON CONFLICT DO NOTHING``: however many workers sweep at once, each reminder fires once.

A changed due date (a new ``due_at``) fires again only when it is news.  A deadline can move while
it is already missed or already warned about: the clock resumed after a pause (every open deadline
moves later by the wait), a triage correction (deadlines recomputed from receipt).  Keyed on the
date alone, the case then got a second "首次回复已超时" at the next sweep, a minute after the first,
for the same missed deadline.  So a warning or an overdue reminder is not raised again when one of
the same kind was already raised at or after the moment the new date calls for (the case has been
warned, or overdue, without a break since); a date moved later than that fires as before.

The clock of a paused case (暂停计时) stands still: no warning while it waits, and an overdue
reminder only for a deadline missed before the pause — ``gateway.core.overdue.missed``, the rule
every page counts "overdue" with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.db.dialect import insert_for
from gateway.core.db.models import Case, CaseReminder
from gateway.core.db.store import Store
from gateway.core.deadlines import WorkCalendar, coordinated_reminder
from gateway.core.domain import CaseStatus, Category
from gateway.core.overdue import FIRST_RESPONSE_PENDING, missed
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


async def _raise(session: AsyncSession, case: Case, kind: str, due_at: datetime, now: datetime,
                 covered_from: datetime | None = None) -> bool:
    """Record and announce one reminder; ``False`` if it was raised before.

    ``covered_from``: the moment from which this kind of reminder applied to ``due_at`` (the due
    date itself for an overdue reminder, the start of the warning window for a warning).  One of
    the same kind raised since then already said it, whatever date it was raised for.
    """
    if covered_from is not None and (await session.execute(select(exists().where(
            CaseReminder.case_id == case.id, CaseReminder.kind == kind,
            CaseReminder.raised_at >= covered_from)))).scalar():
        return False
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
                   Case.first_response_due.is_not(None), Case.first_response_due <= horizon,
                   or_(Case.paused_at.is_(None), missed(Case.first_response_due, now)))
        )
        for case in (await session.execute(first_due)).scalars():
            due = case.first_response_due
            assert due is not None
            if due <= now:
                raised += await _raise(session, case, "first_response_overdue", due, now, covered_from=due)
            else:
                raised += await _raise(session, case, "first_response_warning", due, now,
                                       covered_from=due - policy.warning)
        result_due = select(Case).where(
            Case.status.not_in((*FINISHED, CaseStatus.REPLIED.value, CaseStatus.RETURN_VISITED.value)),
            Case.result_due.is_not(None),
            or_(and_(Case.category == Category.COORDINATED.value, Case.paused_at.is_(None),
                     Case.result_due <= now + timedelta(days=policy.coordinated_working_days * 2 + 14)),
                missed(Case.result_due, now)),
        )
        for case in (await session.execute(result_due)).scalars():
            due = case.result_due
            assert due is not None
            if due <= now:
                if case.paused_at is None or due < case.paused_at:
                    raised += await _raise(session, case, "result_overdue", due, now, covered_from=due)
            elif case.category == Category.COORDINATED.value:
                remind_at = coordinated_reminder(due, calendar, policy.coordinated_working_days).at
                if remind_at <= now:
                    raised += await _raise(session, case, "coordinated_contact", due, now)
    return raised
