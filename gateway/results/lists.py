"""The case lists beside the figures: triage queue, overdue cases, return-visit exceptions, and the
latest rectified cases for the public page.

Every list is keyset-paginated (the cursor is the last row's sort key; no ``OFFSET``), reads the
rows of one page with one query and their registry names from memory, and is served by an index
declared in ``gateway/core/db/models_results.py`` (see ``benchmarks/reports.py`` for the timings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from channels.ratings import REASONS_BY_CODE, Rating
from gateway.core import redact
from gateway.core.db.models import Case, Message
from gateway.core.domain import CaseStatus, Category
from gateway.core.labels import CATEGORY_LABELS, STATUS_LABELS
from gateway.core.overdue import UNFINISHED, first_response_missed, missed_deadlines, result_missed
from gateway.results.figures import RN_UNVISITED, Filters, Names

PAGE = 50

@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    cursor: str | None  # pass back to get the next page; None on the last page

def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None

def _label(mapping: dict[Any, str], value: str | None) -> str:
    if value is None:
        return ""
    for key, label in mapping.items():
        if key == value:
            return label
    return value

def case_row(case: Case, names: Names) -> dict[str, Any]:
    """What a list shows of a case: no personal data (contacts are never read here)."""
    hall_code, hall_name = names.key_of_hall(case.hall_id)
    return {
        "id": case.id, "code": case.code, "channel": case.channel, "status": case.status,
        "status_label": _label(STATUS_LABELS, case.status),
        "category": case.category, "category_label": _label(CATEGORY_LABELS, case.category),
        "rating": case.rating, "rating_label": Rating(case.rating).label if case.rating else "",
        "hall": hall_code, "hall_name": hall_name, "window_name": names.window_name(case.window_id),
        "received_at": _iso(case.received_at), "first_response_due": _iso(case.first_response_due),
        "result_due": _iso(case.result_due), "first_responded_at": _iso(case.first_responded_at),
        "result_at": _iso(case.result_at), "real_name": case.real_name, "verdict": case.verdict,
        "confidence": case.confidence,
    }

def _hall_filter(names: Names, halls: tuple[str, ...] | None) -> list[ColumnElement[bool]]:
    if halls is None:
        return []
    return [Case.hall_id.in_(names.hall_ids(halls) or [-1])]

# ----- triage queue -------------------------------------------------------------------------------

def _encode(*parts: Any) -> str:
    return "|".join("" if p is None else (p.isoformat() if isinstance(p, datetime) else str(p)) for p in parts)

MAX_ID = 2**63 - 1

class CursorError(ValueError):
    """A paging cursor that this code did not make (edited or cut off in the link)."""

def _parts(cursor: str, count: int) -> list[str]:
    parts = cursor.split("|")
    if len(parts) != count:
        raise CursorError(cursor)
    return parts

def _decode_id(value: str) -> int:
    if not value.isascii() or not value.isdigit() or int(value) > MAX_ID:
        raise CursorError(value)
    return int(value)

def _decode_at(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise CursorError(value) from None
    if at.tzinfo is None:
        raise CursorError(value)
    return at

def _decode_due(value: str) -> datetime | None:
    return _decode_at(value) if value else None

def _decode_float(value: str) -> float:
    try:
        number = float(value or 0)
    except ValueError:
        raise CursorError(value) from None
    if not math.isfinite(number):
        raise CursorError(value)
    return number

async def triage_queue(session: AsyncSession, names: Names, *, halls: tuple[str, ...] | None = None,
                       limit: int = PAGE, cursor: str | None = None) -> Page:
    """Cases waiting for a person to check the triage (``needs_review``): the earliest first-response
    deadline first, then the least confident classification; cases without a deadline last."""
    base = [Case.status == CaseStatus.NEEDS_REVIEW.value, *_hall_filter(names, halls)]
    order = (Case.first_response_due, Case.confidence, Case.id)
    rows: list[Case] = []
    due_part = True
    if cursor:
        due_s, conf_s, id_s = _parts(cursor, 3)
        due, conf, last_id = _decode_due(due_s), _decode_float(conf_s), _decode_id(id_s)
        due_part = due is not None
    if due_part:
        query = select(Case).where(*base, Case.first_response_due.is_not(None))
        if cursor and due is not None:
            query = query.where(tuple_(*order) > tuple_(due, conf, last_id))
        rows = list((await session.execute(query.order_by(*order).limit(limit + 1))).scalars())
    if len(rows) <= limit:
        query = select(Case).where(*base, Case.first_response_due.is_(None))
        if cursor and not due_part:
            query = query.where(tuple_(Case.confidence, Case.id) > tuple_(conf, last_id))
        rows += list((await session.execute(
            query.order_by(Case.confidence, Case.id).limit(limit + 1 - len(rows)))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode(rows[-1].first_response_due, rows[-1].confidence or 0, rows[-1].id) if more else None
    return Page([case_row(c, names) for c in rows], next_cursor)

# ----- overdue ------------------------------------------------------------------------------------

async def overdue(session: AsyncSession, names: Names, *, now: datetime | None = None,
                  halls: tuple[str, ...] | None = None, limit: int = PAGE, cursor: str | None = None) -> Page:
    """Unfinished cases past a deadline, the longest overdue first.

    Overdue as ``gateway.core.overdue`` defines it (the same on /supervise): unfinished, and the
    first response or the result missing after its deadline on the case's clock.  The sort
    key is the first deadline the case had (``first_response_due``, or ``result_due`` for a
    协调整改 case that has only a result date).  Two index range scans (one per kind of
    deadline) are merged, so the millions of finished cases are never read.
    """
    now = now or datetime.now(UTC)
    # "hall_id + 0": filter on the town without offering the planner the index on hall_id, which
    # would read all of a town's cases; the partial indexes hold only the unfinished ones.
    base = [*UNFINISHED]
    if halls is not None:
        base.append((Case.hall_id + 0).in_(names.hall_ids(halls) or [-1]))
    after_due: datetime | None = None
    after_id = 0
    if cursor:
        due_s, id_s = _parts(cursor, 2)
        after_due, after_id = _decode_at(due_s), _decode_id(id_s)
    first = select(Case).where(
        *base, Case.first_response_due.is_not(None), Case.first_response_due < now,
        or_(first_response_missed(now), result_missed(now)))
    coordinated = select(Case).where(*base, Case.first_response_due.is_(None), result_missed(now))
    if after_due is not None:
        first = first.where(tuple_(Case.first_response_due, Case.id) > tuple_(after_due, after_id))
        coordinated = coordinated.where(tuple_(Case.result_due, Case.id) > tuple_(after_due, after_id))
    a = list((await session.execute(first.order_by(Case.first_response_due, Case.id).limit(limit + 1))).scalars())
    b = list((await session.execute(coordinated.order_by(Case.result_due, Case.id).limit(limit + 1))).scalars())

    def key(case: Case) -> tuple[datetime, int]:
        due = case.first_response_due or case.result_due
        assert due is not None
        return due, case.id

    merged = sorted(a + b, key=key)
    more = len(merged) > limit
    merged = merged[:limit]
    rows = []
    for case in merged:
        row = case_row(case, names)
        missed = missed_deadlines(case, now)
        row["missed"] = [kind for kind, _ in missed]
        row["overdue_seconds"] = int((now - min(due for _, due in missed)).total_seconds()) if missed else 0
        rows.append(row)
    next_cursor = _encode(*key(merged[-1])) if more else None
    return Page(rows, next_cursor)

# ----- return-visit exceptions --------------------------------------------------------------------

async def return_visit_exceptions(session: AsyncSession, names: Names, filters: Filters, *, limit: int = PAGE,
                                  cursor: str | None = None) -> Page:
    """Real-name 差评 due for a return visit (answered or closed) that have none: every exception to
    the 100% rule, oldest first (see ``figures.RN_VISIT_DUE``)."""
    start, end = filters.period.bounds()
    query = select(Case).where(
        Case.received_at >= start, Case.received_at < end, RN_UNVISITED, *_hall_filter(names, filters.halls))
    if filters.channels is not None:
        query = query.where(Case.channel.in_(filters.channels))
    if filters.service_items is not None:
        query = query.where(Case.service_item_id.in_(names.item_ids(filters.service_items) or [-1]))
    if filters.windows is not None:
        query = query.where(Case.window_id.in_(names.window_ids(filters.windows) or [-1]))
    if cursor:
        at_s, id_s = _parts(cursor, 2)
        query = query.where(tuple_(Case.received_at, Case.id) > tuple_(_decode_at(at_s), _decode_id(id_s)))
    cases = list((await session.execute(query.order_by(Case.received_at, Case.id).limit(limit + 1))).scalars())
    more = len(cases) > limit
    cases = cases[:limit]
    return Page([case_row(c, names) for c in cases], _encode(cases[-1].received_at, cases[-1].id) if more else None)

# ----- latest rectified cases, for the public -----------------------------------------------------

def scrub(text: str) -> str:
    """A last guard on published text: phone numbers, e-mail addresses and ID numbers become ***."""
    return redact.scrub(text)

async def latest_rectified(session: AsyncSession, names: Names, *, hall_code: str | None = None,
                           limit: int = 10) -> list[dict[str, Any]]:
    """The most recently rectified 差评 with a public reply, anonymised: town, window, track, the
    reason chosen, dates, and the public replies only — never the citizen's text or contact."""
    halls = (hall_code,) if hall_code else None
    has_public = (select(Message.id).where(Message.case_id == Case.id, Message.direction == "out",
                                           Message.public.is_(True)).exists())
    query = (select(Case).where(Case.result_at.is_not(None), Case.verdict == "valid", has_public,
                                *_hall_filter(names, halls))
             .order_by(Case.result_at.desc(), Case.id.desc()).limit(limit))
    cases = list((await session.execute(query)).scalars())
    if not cases:
        return []
    replies: dict[int, list[str]] = {}
    for message in (await session.execute(
            select(Message.case_id, Message.text).where(
                Message.case_id.in_([c.id for c in cases]), Message.direction == "out", Message.public.is_(True))
            .order_by(Message.id))).all():
        replies.setdefault(message.case_id, []).append(scrub(message.text))
    result = []
    for case in cases:
        reasons = [REASONS_BY_CODE[r].label for r in (case.reasons or []) if r in REASONS_BY_CODE]
        result.append({
            "hall_name": names.key_of_hall(case.hall_id)[1],
            "window_name": names.window_name(case.window_id),
            "category_label": CATEGORY_LABELS.get(Category(case.category), "") if case.category else "",
            "reasons": reasons,
            "received_on": case.received_at,
            "rectified_on": case.result_at,
            "replies": replies.get(case.id, []),
        })
    return result
