"""Reading and changing cases: the views the CLI and console show, and the staff operations that
are not plain state moves (correcting the triage, setting a 协调整改 due date).

Personal data leaves this module masked unless the caller asks for ``reveal=True``; the caller
is responsible for checking that the person may see it (and for auditing that they did).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.contact import mask_email, mask_name, mask_openid, mask_phone
from channels.ratings import Rating
from gateway.core import redact
from gateway.core.db.models import (
    Attachment,
    Case,
    CaseEvent,
    Contact,
    Hall,
    Message,
    ServiceItem,
    TriageCorrection,
    Window,
)
from gateway.core.db.store import Store
from gateway.core.deadlines import DeadlinePolicy, WorkCalendar, deadlines_for
from gateway.core.domain import CaseStatus, Category
from gateway.core.labels import CATEGORY_LABELS, STATUS_LABELS, TRIAGE_REASON_LABELS
from gateway.core.personal import PersonalDataCipher
from gateway.core.workflow import EventSpec, WorkflowError, add_events, apply_transition

TRIAGE_REASONS = {
    Category.IMMEDIATE: ("environment", "facilities", "attitude"),
    Category.TIME_LIMITED: ("procedure", "steps", "efficiency"),
    Category.COORDINATED: ("complex", "cross_department"),
    Category.NONE: ("praise", "inquiry", "suggestion", "spam"),
}


def reason_refusal(label: str, reason: str | None, *, codes: bool = False) -> str | None:
    """Why a triage correction to ``label`` with ``reason`` cannot be saved, in Chinese; None when it can.

    The one rule for every way of correcting the triage (the /triage page, ``hcp cases reclassify``
    and ``reclassify`` itself): the reason is required and must be one of the category's.  A missing
    reason is refused, never filled in: the category's first reason is not the clerk's choice.
    ``codes`` names each reason with the code the command line takes (``procedure（办事流程）``).
    """
    category = Category(label)

    def name(code: str) -> str:
        words = TRIAGE_REASON_LABELS.get(code)
        if codes:
            return f"{code}（{words}）" if words else code
        return words or "未知原因"

    allowed = "、".join(name(r) for r in TRIAGE_REASONS[category])
    if not reason:
        return f"请为“{CATEGORY_LABELS[category]}”选择原因：{allowed}。案件的分类没有改动。"
    if reason not in TRIAGE_REASONS[category]:
        return (f"原因“{name(reason)}”不属于“{CATEGORY_LABELS[category]}”，"
                f"请从该类别的原因中选择：{allowed}。案件的分类没有改动。")
    return None


class CaseNotFound(LookupError):
    def __init__(self, code: str) -> None:
        super().__init__(f"no case with tracking code {code!r}")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def contact_view(contact: Contact | None, cipher: PersonalDataCipher, *, reveal: bool) -> dict[str, Any]:
    if contact is None:
        return {"name": None, "phone": None, "email": None, "wechat": None}
    name, phone, email = (cipher.open(contact.name_enc), cipher.open(contact.phone_enc),
                          cipher.open(contact.email_enc))
    # The OpenID is shown masked even when revealed: staff answer through the account, never by hand.
    wechat = mask_openid(cipher.open(contact.wechat_enc)) or None
    if reveal:
        return {"name": name, "phone": phone, "email": email, "wechat": wechat}
    return {"name": mask_name(name) or None, "phone": mask_phone(phone) or None, "email": mask_email(email) or None,
            "wechat": wechat}


async def _load(session: AsyncSession, code: str) -> Case:
    case = (await session.execute(select(Case).where(Case.code == code))).scalar_one_or_none()
    if case is None:
        raise CaseNotFound(code)
    return case


async def case_summaries(session: AsyncSession, cases: list[Case], cipher: PersonalDataCipher,
                         *, reveal: bool = False) -> list[dict[str, Any]]:
    """JSON-ready summaries of ``cases`` with three queries, whatever their number."""
    ids = [c.id for c in cases]
    contacts = {c.case_id: c for c in (await session.execute(
        select(Contact).where(Contact.case_id.in_(ids)))).scalars()} if ids else {}
    first_refs: dict[int, str] = {}
    if ids:
        for row in (await session.execute(
            select(Message.case_id, Message.source_ref).where(Message.case_id.in_(ids), Message.direction == "in")
            .order_by(Message.id)
        )).all():
            first_refs.setdefault(row.case_id, row.source_ref)
    names = await _registry_names(session, cases)
    shown = _shown(reveal)
    result = []
    for case in cases:
        contact = contact_view(contacts.get(case.id), cipher, reveal=reveal)
        result.append({
            "code": case.code,
            "channel": case.channel,
            "source_ref": first_refs.get(case.id),
            "received_at": _iso(case.received_at),
            "subject": shown(case.subject),
            "text": shown(case.text),
            "rating": case.rating,
            "reasons": case.reasons,
            "hall": names["hall"].get(case.hall_id),
            "window": names["window"].get(case.window_id),
            "service_item": names["item"].get(case.service_item_id),
            "contact": {**contact, "real_name": case.real_name, "reply_channel": case.reply_channel},
            "category": case.category,
            "reason": case.reason,
            "confidence": case.confidence,
            "needs_review": case.needs_review,
            "status": case.status,
            "verdict": case.verdict,
            "deadlines": {
                "first_response_due": _iso(case.first_response_due),
                "result_due": _iso(case.result_due),
                "uncertain": case.deadline_uncertain,
                "first_responded_at": _iso(case.first_responded_at),
                "result_at": _iso(case.result_at),
            },
            "closed_at": _iso(case.closed_at),
        })
    return result


def _shown(reveal: bool) -> Callable[[str | None], str | None]:
    """Free text as shown: phone numbers, e-mails and ID numbers typed into it are masked like the
    contact fields (``redact.scrub``, as in the CSV export), unless the caller reveals."""
    if reveal:
        return lambda text: text
    return lambda text: redact.scrub(text) if text else text


async def _registry_names(session: AsyncSession, cases: list[Case]) -> dict[str, dict[int | None, Any]]:
    hall_ids = {c.hall_id for c in cases if c.hall_id}
    window_ids = {c.window_id for c in cases if c.window_id}
    item_ids = {c.service_item_id for c in cases if c.service_item_id}
    halls = {h.id: {"code": h.code, "name": h.name} for h in (await session.execute(
        select(Hall).where(Hall.id.in_(hall_ids)))).scalars()} if hall_ids else {}
    windows = {w.id: {"code": w.code, "name": w.name} for w in (await session.execute(
        select(Window).where(Window.id.in_(window_ids)))).scalars()} if window_ids else {}
    items = {i.id: {"code": i.code, "name": i.name} for i in (await session.execute(
        select(ServiceItem).where(ServiceItem.id.in_(item_ids)))).scalars()} if item_ids else {}
    return {"hall": halls, "window": windows, "item": items}


async def list_cases(store: Store, cipher: PersonalDataCipher, *, status: str | None = None,
                     category: str | None = None, limit: int = 50,
                     before_id: int | None = None) -> list[dict[str, Any]]:
    """Newest first, keyset-paginated by ``before_id`` (no OFFSET scans on large tables)."""
    query = select(Case).order_by(Case.id.desc()).limit(limit)
    if status:
        query = query.where(Case.status == CaseStatus(status).value)
    if category:
        query = query.where(Case.category == Category(category).value)
    if before_id:
        query = query.where(Case.id < before_id)
    async with store.read() as session:
        cases = list((await session.execute(query)).scalars())
        return await case_summaries(session, cases, cipher)


async def show_case(store: Store, cipher: PersonalDataCipher, code: str, *, reveal: bool = False) -> dict[str, Any]:
    """The case with its whole timeline: messages (with attachments) and events."""
    async with store.read() as session:
        case = await _load(session, code)
        [summary] = await case_summaries(session, [case], cipher, reveal=reveal)
        messages = list((await session.execute(
            select(Message).where(Message.case_id == case.id).order_by(Message.id))).scalars())
        attachments: dict[int, list[dict[str, Any]]] = {}
        if messages:
            for att in (await session.execute(select(Attachment).where(
                    Attachment.message_id.in_([m.id for m in messages])).order_by(Attachment.id))).scalars():
                attachments.setdefault(att.message_id, []).append({
                    "name": att.name, "media_type": att.media_type, "size": att.size, "sha256": att.sha256,
                    "rejected": att.rejected, "removed_at": _iso(att.removed_at)})
        events = list((await session.execute(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))).scalars())
    shown = _shown(reveal)
    summary["messages"] = [{
        "direction": m.direction, "channel": m.channel, "source_ref": m.source_ref, "at": _iso(m.at),
        "author": m.author, "subject": shown(m.subject), "text": shown(m.text), "public": m.public,
        "raw_sha256": m.raw_sha256,
        "attachments": attachments.get(m.id, [])} for m in messages]
    summary["events"] = [{
        "at": _iso(e.at), "actor": e.actor, "kind": e.kind, "from_status": e.from_status,
        "to_status": e.to_status, "note": shown(e.note), "data": e.data} for e in events]
    summary["triage_terms"] = case.triage_terms
    return summary


@dataclass(frozen=True, slots=True)
class Reclassified:
    code: str
    category: str
    reason: str | None
    status: str


def _category_words(category: str | None, reason: str | None) -> str:
    """"限时整改（办事流程）": a category and its reason as staff read them on the timeline."""
    words = CATEGORY_LABELS.get(category or "", category or "未分类")
    return f"{words}（{TRIAGE_REASON_LABELS.get(reason, reason)}）" if reason else words


async def reclassify(store: Store, calendar: WorkCalendar, code: str, label: str, reason: str | None,
                     *, actor: str, now: datetime | None = None, policy: DeadlinePolicy | None = None,
                     note: str | None = None) -> Reclassified:
    """The triage team's correction: new category and reason, deadlines recomputed from receipt,
    the correction kept for ``hcp triage suggest``, and a case waiting for review released.
    A reason of the new category is required (``reason_refusal``), so no caller can store a
    correction whose reason nobody chose.  ``note`` (why, in the clerk's words) goes on the
    timeline after the change."""
    category = Category(label)
    refusal = reason_refusal(label, reason)
    if refusal is not None:
        raise WorkflowError(refusal)
    now = now or datetime.now(UTC)
    async with store.write() as session:
        case = (await session.execute(select(Case).where(Case.code == code).with_for_update())).scalar_one_or_none()
        if case is None:
            raise CaseNotFound(code)
        if case.status not in (CaseStatus.RECEIVED, CaseStatus.TRIAGED, CaseStatus.NEEDS_REVIEW,
                               CaseStatus.VERIFYING):
            raise WorkflowError(f"案件已{STATUS_LABELS.get(case.status, case.status)}，分类不能再改")
        old_label, old_reason = case.category, case.reason
        if (old_label, old_reason) != (category.value, reason):
            session.add(TriageCorrection(case_id=case.id, text=case.text, old_label=old_label, old_reason=old_reason,
                                         new_label=category.value, new_reason=reason, actor=actor, at=now))
        rating = Rating(case.rating) if case.rating else None
        due = deadlines_for(category, case.received_at, calendar, bad=bool(rating and rating.is_bad), reason=reason,
                            policy=policy)
        case.category, case.reason = category.value, reason
        case.first_response_due, case.result_due = due.first_response_due, due.result_due
        case.deadline_uncertain, case.due_provisional = not due.certain, due.provisional
        case.needs_review = False
        case.updated_at = now
        await session.run_sync(add_events, case.id, now, [EventSpec(
            kind="reclassify", actor=actor,
            note=f"{_category_words(old_label, old_reason)} → {_category_words(category.value, reason)}"
                 + (f"；说明：{note.strip()}" if note and note.strip() else ""),
            data={"old": [old_label, old_reason], "new": [category.value, reason]})])
        if case.status == CaseStatus.NEEDS_REVIEW:
            await apply_transition(session, case.id, "review", actor=actor, now=now)
        return Reclassified(case.code, case.category, case.reason, case.status)


async def set_due_date(store: Store, code: str, due: datetime, *, actor: str, note: str | None = None) -> None:
    """The handler's due date for a 协调整改 case (or a new date agreed with the citizen)."""
    if due.tzinfo is None:
        raise ValueError("the due date must carry a time zone")
    async with store.write() as session:
        case = (await session.execute(select(Case).where(Case.code == code).with_for_update())).scalar_one_or_none()
        if case is None:
            raise CaseNotFound(code)
        if case.category != Category.COORDINATED:
            raise WorkflowError("只有协调整改案件由承办人设定办理期限")
        previous = case.result_due
        case.result_due, case.due_provisional = due, False
        case.updated_at = datetime.now(UTC)
        await session.run_sync(add_events, case.id, case.updated_at, [EventSpec(
            kind="set_due_date", actor=actor, note=note,
            data={"old": _iso(previous), "new": due.isoformat()})])


def restart_deadlines(case: Case, start: datetime, calendar: WorkCalendar, policy: DeadlinePolicy | None) -> None:
    """Deadlines counted again from ``start`` (a reopening or a calendar change counts from receipt)."""
    rating = Rating(case.rating) if case.rating else None
    due = deadlines_for(case.category, start, calendar, bad=bool(rating and rating.is_bad), reason=case.reason,
                        policy=policy)
    case.first_response_due, case.result_due = due.first_response_due, due.result_due
    case.deadline_uncertain, case.due_provisional = not due.certain, due.provisional


async def reopen(store: Store, calendar: WorkCalendar, code: str, *, actor: str, reason: str,
                 policy: DeadlinePolicy | None = None, now: datetime | None = None,
                 session: AsyncSession | None = None) -> Case:
    """重新办理: a closed case handled again, with the reason on its timeline; its deadlines restart
    from now.  It stays one case (counted once, in the period it was received)."""
    if not reason or not reason.strip():
        raise WorkflowError("重新办理需要说明理由")
    now = now or datetime.now(UTC)

    async def run(session: AsyncSession) -> Case:
        case = await _load(session, code)
        case = await apply_transition(session, case.id, "reopen_closed", actor=actor, note=reason.strip(), now=now)
        restart_deadlines(case, now, calendar, policy)
        await session.run_sync(add_events, case.id, now, [EventSpec(
            kind="deadlines_restarted", actor=actor, note="重新办理，期限自重新办理时起算",
            data={"first_response_due": _iso(case.first_response_due), "result_due": _iso(case.result_due)})])
        return case

    if session is not None:
        return await run(session)
    async with store.write() as own:
        return await run(own)


async def transition(store: Store, code: str, action: str, *, actor: str, note: str | None = None,
                     max_visit_attempts: int = 3) -> str:
    """Apply a workflow action to the case with this tracking code; return its new status."""
    if action == "reopen_closed":
        raise WorkflowError("重新办理由督查人员操作并说明理由（hcp cases reopen），期限将重新计算")
    async with store.write() as session:
        case = await _load(session, code)
        case = await apply_transition(session, case.id, action, actor=actor, note=note,
                                      max_visit_attempts=max_visit_attempts)
        return case.status
