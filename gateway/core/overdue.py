"""The one definition of "overdue" (超时) that every page and export counts with.

The supervisors' page (/supervise), the reports page and workbook (/reports) and the case list's
``overdue=1`` filter all ask the same question; they used to answer it three ways, so pausing a
case's clock took it off /supervise while /reports still listed it.

A case is overdue at ``now`` when it is unfinished (no result, not closed, not ruled invalid or
malicious) and a deadline it has not met has passed *on its clock*:

- the first response is missing and ``first_response_due`` has passed, or
- the result is missing and ``result_due`` has passed.

A result answered to the citizen (``result_at``) is also a first response: a case answered in
one step (a 不属实 差评 answered at once, an answer recorded by an import) has met its
first-response deadline even though ``first_responded_at`` was never set.  Every page, the
countdown and the reminder job ask ``first_response_pending`` / ``first_response_done`` for that,
never ``first_responded_at`` alone.

A paused clock (暂停计时, the case waits for the citizen) stands still at ``paused_at``.  So a
case paused *before* its deadline is not overdue while it stays paused (the wait is not the
office's fault, and resuming moves the deadline later by the time waited), but a case that was
already overdue when someone paused it stays overdue: pausing is not a way to hide a missed
deadline.  In short, a deadline is missed when it falls before ``min(now, paused_at)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy import case as sql_case

from gateway.core.db.models import Case
from gateway.core.domain import CaseStatus

NOT_OPEN = (CaseStatus.CLOSED.value, CaseStatus.NOT_VALID.value, CaseStatus.MALICIOUS.value)
# Unfinished: the partial indexes' condition (result and close dates empty) plus the status.
UNFINISHED = (Case.result_at.is_(None), Case.closed_at.is_(None), Case.status.not_in(NOT_OPEN))


def missed(due: Any, now: datetime) -> ColumnElement[bool]:
    """SQL: the deadline column ``due`` has passed on the case's clock (stopped while paused)."""
    return and_(due.is_not(None), due < now, or_(Case.paused_at.is_(None), due < Case.paused_at))


# SQL: the first response is still owed (neither a first response nor a result recorded).
FIRST_RESPONSE_PENDING: ColumnElement[bool] = and_(Case.first_responded_at.is_(None), Case.result_at.is_(None))


# SQL twin of ``running_due``.
RUNNING_DUE = sql_case((FIRST_RESPONSE_PENDING, Case.first_response_due), else_=Case.result_due)


def first_response_done(case: Any) -> datetime | None:
    """When ``case`` met its first response (its first response, else its result), or ``None``."""
    first = getattr(case, "first_responded_at", None)
    return first if first is not None else getattr(case, "result_at", None)


def is_open(case: Any) -> bool:
    """Python twin of ``UNFINISHED``: no result, not closed, not ruled invalid or malicious."""
    return (getattr(case, "result_at", None) is None and getattr(case, "closed_at", None) is None
            and getattr(case, "status", None) not in NOT_OPEN)


def running_due(case: Any) -> datetime | None:
    """The deadline that runs now: the first response until it is met, then the result."""
    if first_response_done(case) is None and getattr(case, "first_response_due", None) is not None:
        return case.first_response_due  # type: ignore[no-any-return]
    return getattr(case, "result_due", None)


def first_response_missed(now: datetime) -> ColumnElement[bool]:
    return and_(FIRST_RESPONSE_PENDING, missed(Case.first_response_due, now))


def result_missed(now: datetime) -> ColumnElement[bool]:
    return missed(Case.result_due, now)


def is_overdue(now: datetime) -> ColumnElement[bool]:
    """SQL condition: the case is overdue at ``now`` (see the module docstring)."""
    return and_(*UNFINISHED, or_(first_response_missed(now), result_missed(now)))


def missed_deadlines(case: Case, now: datetime) -> list[tuple[str, datetime]]:
    """The deadlines ``case`` has missed at ``now``, as (``"first_response"``/``"result"``, due):
    the Python twin of ``is_overdue`` for rows already loaded."""
    clock = min(now, case.paused_at) if case.paused_at is not None else now
    missed_ = []
    if case.first_response_due and first_response_done(case) is None and case.first_response_due < clock:
        missed_.append(("first_response", case.first_response_due))
    if case.result_due and case.result_at is None and case.result_due < clock:
        missed_.append(("result", case.result_due))
    return missed_
