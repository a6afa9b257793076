"""The console's list queries: cases, the triage review queue, deadlines due soon, overdue per town.

All lists are keyset-paginated (``WHERE (key) > (cursor)``, no OFFSET) and fetch their rows, the
hall names and the masked contacts in a fixed number of queries, however long the page.  Town
scope is a parameter of every query: ``None`` means county-wide.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, tuple_
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from channels.contact import mask_name, mask_phone
from gateway.core.answered import ANSWER_KINDS
from gateway.core.db.models import Case, CaseEvent, Contact, Hall, OutboxMessage
from gateway.core.domain import CaseStatus, Category
from gateway.core.outbox import FAILED
from gateway.core.overdue import RUNNING_DUE, UNFINISHED, is_overdue, missed
from gateway.core.personal import PersonalDataCipher
from gateway.core.workflow import ANSWERED_REASONS
from gateway.results.figures import BAD_RATINGS, RN_UNVISITED

OPEN = tuple(s.value for s in CaseStatus if s not in (CaseStatus.CLOSED, CaseStatus.NOT_VALID, CaseStatus.MALICIOUS))
RECTIFY = tuple(c.value for c in Category if c is not Category.NONE)
# What each list holds, one condition per list, shared by the list and by the count beside its link on
# the start page (工作台), so the number there is the number of rows the page shows.
IN_REVIEW = Case.status == CaseStatus.NEEDS_REVIEW.value
APPEAL_PENDING = Case.appeal_status == "pending"
# Real-name 差评 answered and not yet visited (``figures.RN_UNVISITED``), still open.
VISIT_MISSING = and_(RN_UNVISITED, Case.status != CaseStatus.CLOSED.value)
# Classified and waiting for a handler to start verifying (待核实): every 差评 and anything on a
# rectification track — ``CaseFacts.needs_verification``, the guard of 开始核实.
TO_VERIFY = and_(Case.status == CaseStatus.TRIAGED.value,
                 or_(Case.rating.in_(BAD_RATINGS),
                     and_(Case.category.is_not(None), Case.category != Category.NONE.value)))
# The case list's work lists beside its plain statuses (``/cases?status=to_verify``): what a handler
# does next, counted on the start page by the same condition (labels: ``labels.WORK_LIST_LABELS``).
WORK_LISTS: dict[str, ColumnElement[bool]] = {"to_verify": TO_VERIFY, "to_visit": VISIT_MISSING}
# Timeline events by which a person settled a case's category (the spot check leaves these out).
DECIDED_BY_HAND = ("review", "reclassify")
# The deadline that is running: the first response until it happened, then the result.


@dataclass
class CaseRow:
    case: Case
    hall_code: str | None
    hall_name: str | None
    contact: dict[str, str | None]


def _scoped(query: Select, towns: Iterable[str] | None) -> Select:
    if towns is None:
        return query
    return query.where(Hall.code.in_(sorted(towns)))


async def _rows(session: AsyncSession, query: Select, cipher: PersonalDataCipher) -> list[CaseRow]:
    found = (await session.execute(query)).all()
    ids = [row[0].id for row in found]
    contacts = {c.case_id: c for c in (await session.execute(
        select(Contact).where(Contact.case_id.in_(ids)))).scalars()} if ids else {}
    rows = []
    for case, hall_code, hall_name in found:
        contact = contacts.get(case.id)
        rows.append(CaseRow(case, hall_code, hall_name, {
            "name": mask_name(cipher.open(contact.name_enc)) or None if contact else None,
            "phone": mask_phone(cipher.open(contact.phone_enc)) or None if contact else None,
        }))
    return rows


def _base() -> Select:
    return select(Case, Hall.code, Hall.name).outerjoin(Hall, Hall.id == Case.hall_id)


async def list_cases(session: AsyncSession, cipher: PersonalDataCipher, *, towns: Iterable[str] | None,
                     status: str | None = None, category: str | None = None, hall: str | None = None,
                     channel: str | None = None, overdue_at: datetime | None = None, code: str | None = None,
                     phone_hash: str | None = None, before_id: int | None = None, limit: int = 50) -> list[CaseRow]:
    """Newest first.  ``overdue_at``: only open cases whose running deadline passed before it;
    ``phone_hash``: the keyed hash of a normalised phone number (the number itself is never stored)."""
    query = _scoped(_base(), towns).where(*case_filters(
        status=status, category=category, hall=hall, channel=channel, overdue_at=overdue_at, code=code,
        phone_hash=phone_hash)).order_by(Case.id.desc()).limit(limit)
    if before_id:
        query = query.where(Case.id < before_id)
    return await _rows(session, query, cipher)


def case_filters(*, status: str | None = None, category: str | None = None, hall: str | None = None,
                 channel: str | None = None, overdue_at: datetime | None = None, code: str | None = None,
                 phone_hash: str | None = None) -> list[ColumnElement[bool]]:
    """The case list's filters (``/cases?status=…&overdue=1``) as conditions, for the list and its counts.

    ``status`` is a case status or one of the work lists (``WORK_LISTS``: 待核实, 待回访)."""
    conditions: list[ColumnElement[bool]] = []
    if phone_hash:
        conditions.append(Case.id.in_(select(Contact.case_id).where(Contact.phone_hash == phone_hash)))
    if status in WORK_LISTS:
        conditions.append(WORK_LISTS[status])
    elif status:
        conditions.append(Case.status == CaseStatus(status).value)
    if category:
        conditions.append(Case.category == category)
    if hall:
        conditions.append(Hall.code == hall)
    if channel:
        conditions.append(Case.channel == channel)
    if code:
        conditions.append(Case.code == code.strip().upper())
    if overdue_at is not None:
        conditions.append(is_overdue(overdue_at))
    return conditions


async def count_cases(session: AsyncSession, *conditions: ColumnElement[bool], towns: Iterable[str] | None) -> int:
    """How many cases of these towns meet ``conditions`` (a list's own, from this module)."""
    query = select(func.count()).select_from(Case).outerjoin(Hall, Hall.id == Case.hall_id).where(*conditions)
    return int((await session.execute(_scoped(query, towns))).scalar_one())


async def triage_queue(session: AsyncSession, cipher: PersonalDataCipher, *, towns: Iterable[str] | None,
                       mode: str = "review", after: tuple[int, str, float, int] | None = None,
                       limit: int = 50) -> list[CaseRow]:
    """Items for the triage team, most urgent first: first-response deadline (items without one
    last, oldest first), then lowest confidence.

    ``mode="review"``: the items the classifier was unsure of (待复核); ``"auto"``: the confidently
    classified open items, for spot checks — only those no person has decided yet: a case corrected
    (分拣更正) or confirmed (复核分类) by hand is done and leaves the list.
    """
    undated = sql_case((Case.first_response_due.is_(None), 1), else_=0)
    due = func.coalesce(Case.first_response_due, Case.received_at)
    confidence = func.coalesce(Case.confidence, 0.0)
    query = _scoped(_base(), towns).order_by(undated, due, confidence, Case.id).limit(limit)
    if mode == "review":
        query = query.where(IN_REVIEW)
    else:
        decided = (select(CaseEvent.id).where(CaseEvent.case_id == Case.id, CaseEvent.kind.in_(DECIDED_BY_HAND))
                   .correlate(Case).exists())
        query = query.where(Case.status == CaseStatus.TRIAGED.value, ~decided)
    if after is not None:
        undated_after, due_after, confidence_after, id_after = after
        query = query.where(tuple_(undated, due, confidence, Case.id) > tuple_(
            undated_after, datetime.fromisoformat(due_after), confidence_after, id_after))
    return await _rows(session, query, cipher)


def queue_cursor(row: CaseRow) -> str:
    case = row.case
    due = case.first_response_due or case.received_at
    return f"{int(case.first_response_due is None)}|{due.isoformat()}|{case.confidence or 0.0}|{case.id}"


MAX_ID = 2**63 - 1


def parse_cursor(text: str | None) -> tuple[int, str, float, int] | None:
    if not text:
        return None
    try:
        undated, due, confidence, case_id = text.split("|")
        datetime.fromisoformat(due)
        parsed = int(undated), due, float(confidence), int(case_id)
    except ValueError:
        return None
    if parsed[0] not in (0, 1) or not math.isfinite(parsed[2]) or not 0 <= parsed[3] <= MAX_ID:
        return None  # edited by hand: start from the first page rather than overflow the query
    return parsed


async def due_soon(session: AsyncSession, cipher: PersonalDataCipher, *, towns: Iterable[str] | None,
                   until: datetime, limit: int = 100) -> list[CaseRow]:
    """Open cases whose deadline falls before ``until`` (past ones first): running ones, and paused
    ones that were already overdue when paused (``gateway.core.overdue``)."""
    query = (_scoped(_base(), towns)
             .where(Case.status.in_(OPEN), RUNNING_DUE.is_not(None), until > RUNNING_DUE,
                    or_(Case.paused_at.is_(None), missed(RUNNING_DUE, until)),
                    *UNFINISHED)
             .order_by(RUNNING_DUE, Case.id).limit(limit))
    return await _rows(session, query, cipher)


async def overdue_by_town(session: AsyncSession, *, now: datetime, towns: Iterable[str] | None) -> list[dict[str, Any]]:
    """Per town: open cases, of which overdue now (``gateway.core.overdue``), and cases that finished late."""
    late_now = is_overdue(now)
    finished_late = and_(Case.result_at.is_not(None), Case.result_due.is_not(None), Case.result_at > Case.result_due)
    query = (select(Hall.code, Hall.name,
                    func.count().filter(Case.status.in_(OPEN)),
                    func.count().filter(late_now),
                    func.count().filter(finished_late))
             .select_from(Hall).join(Case, Case.hall_id == Hall.id)
             .group_by(Hall.code, Hall.name).order_by(Hall.code))
    if towns is not None:
        query = query.where(Hall.code.in_(sorted(towns)))
    return [{"code": code, "name": name, "open": open_count, "overdue": overdue, "finished_late": late}
            for code, name, open_count, overdue, late in (await session.execute(query)).all()]


async def pending_appeals(session: AsyncSession, cipher: PersonalDataCipher, *,
                          towns: Iterable[str] | None) -> list[CaseRow]:
    query = _scoped(_base(), towns).where(APPEAL_PENDING).order_by(Case.id).limit(200)
    return await _rows(session, query, cipher)


async def undelivered_replies(session: AsyncSession, cipher: PersonalDataCipher, *,
                              towns: Iterable[str] | None) -> list[CaseRow]:
    """答复未送达: an answer whose message failed for good (an SMS the carrier could not deliver, a
    refused number or address) and that has not reached the citizen another way since — a person
    must call.  Logging that call (回访 or 联系群众, reached) takes the case off the list."""
    failed = (select(OutboxMessage.id).where(OutboxMessage.case_id == Case.id, OutboxMessage.status == FAILED,
                                             OutboxMessage.kind.in_(sorted(ANSWER_KINDS)))
              .correlate(Case).exists())
    query = (_scoped(_base(), towns).where(failed, Case.reply_delivered_at.is_(None))
             .order_by(Case.updated_at, Case.id).limit(200))
    return await _rows(session, query, cipher)


async def missing_return_visits(session: AsyncSession, cipher: PersonalDataCipher, *,
                                towns: Iterable[str] | None) -> list[CaseRow]:
    """Real-name 差评 (and unrated complaints handled as one) answered but not yet visited
    (``figures.RN_UNVISITED``, the definition /reports and the hotline use too), still open: the
    cases the workflow will not close yet (the rule is 100%)."""
    query = (_scoped(_base(), towns)
             .where(VISIT_MISSING)
             .order_by(Case.result_at, Case.id).limit(200))
    return await _rows(session, query, cipher)


async def unanswered_questions(session: AsyncSession, cipher: PersonalDataCipher, *,
                               towns: Iterable[str] | None) -> list[CaseRow]:
    """Inquiries (咨询) and suggestions (建议) nobody has answered yet, oldest deadline first."""
    query = (_scoped(_base(), towns)
             .where(Case.status == CaseStatus.TRIAGED.value, Case.category == Category.NONE.value,
                    Case.reason.in_(sorted(ANSWERED_REASONS)), Case.first_responded_at.is_(None))
             .order_by(Case.first_response_due, Case.id).limit(200))
    return await _rows(session, query, cipher)


async def undated_coordinated(session: AsyncSession, cipher: PersonalDataCipher, *,
                              towns: Iterable[str] | None) -> list[CaseRow]:
    """协调整改 cases still on the default due date (未设定期限): a person must set one."""
    query = (_scoped(_base(), towns)
             .where(Case.status.in_(OPEN), Case.category == Category.COORDINATED.value,
                    Case.due_provisional.is_(True), Case.result_at.is_(None))
             .order_by(Case.result_due, Case.id).limit(200))
    return await _rows(session, query, cipher)
