"""Deadlines of open cases computed again after the working-day calendar changed.

An imported schedule or a single override can move a working day: every open case's deadlines are
recomputed in the transaction that changes the calendar, and each case whose deadline moved gets a
timeline event with the old and new dates, so nobody wonders why a countdown jumped.

What is kept: a date a person set (协调整改 ``due_provisional = false``), and the time the clock was
paused (``paused_seconds`` is added back).  A reopened case counts from its reopening.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.ratings import Rating
from gateway.core.db.models import Case
from gateway.core.deadlines import DeadlinePolicy, WorkCalendar, deadlines_for
from gateway.core.domain import CaseStatus
from gateway.core.workflow import EventSpec, add_events

FINISHED = (CaseStatus.CLOSED.value, CaseStatus.NOT_VALID.value, CaseStatus.MALICIOUS.value)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def recompute_open_deadlines(session: AsyncSession, calendar: WorkCalendar, policy: DeadlinePolicy, *,
                                   actor: str, reason: str, now: datetime) -> int:
    """Recompute in the caller's transaction; return how many cases' deadlines moved."""
    query = select(Case).where(Case.status.not_in(FINISHED), Case.result_at.is_(None)).with_for_update()
    moved = 0
    for case in (await session.execute(query)).scalars():
        rating = Rating(case.rating) if case.rating else None
        start = case.reopened_at or case.received_at
        due = deadlines_for(case.category, start, calendar, bad=bool(rating and rating.is_bad), reason=case.reason,
                            policy=policy)
        paused = timedelta(seconds=case.paused_seconds or 0)
        first = due.first_response_due + paused if due.first_response_due else None
        result = due.result_due + paused if due.result_due else None
        if case.category == "coordinated" and not case.due_provisional:
            result = case.result_due  # a person's date stays
        old = (case.first_response_due, case.result_due, case.deadline_uncertain)
        new = (first, result, not due.certain)
        if old == new:
            continue
        case.first_response_due, case.result_due, case.deadline_uncertain = new
        case.updated_at = now
        moved += 1
        await session.run_sync(add_events, case.id, now, [EventSpec(
            kind="calendar_recomputed", actor=actor, note=reason,
            data={"old": {"first_response_due": _iso(old[0]), "result_due": _iso(old[1]), "uncertain": old[2]},
                  "new": {"first_response_due": _iso(first), "result_due": _iso(result), "uncertain": new[2]}})])
    return moved
