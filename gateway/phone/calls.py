"""Storing call records and turning silent calls into call-back tasks.

Every record lands in ``phone_calls`` once (``ON CONFLICT DO NOTHING`` on ``(source, call_id)``),
in batches that each commit as a whole, so an import that dies half-way is finished by running it
again.  In the same transaction as its row:

* an **answered** call is matched to the operator's log of it: an inbound ``phone`` message whose
  case belongs to the same number (keyed hash), logged between ``match_before_minutes`` before the
  call and ``match_after_minutes`` after it ended, nearest first, each log matched once.  A Twilio
  call matches its own voicemail case by ``CallSid``; one that left no message needs a call back.
* a **missed** or **abandoned** call raises a call-back task due one office hour later (the
  立整立改 clock), unless the same number already has an open task, or got through later.

Logging a call for a number closes its open tasks: the citizen has been heard.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from channels.phone.cdr import CallRecord
from gateway.core.db.dialect import dialect_of, insert_ignoring
from gateway.core.db.models import Contact, Message
from gateway.core.db.models_phone import CallbackTask, PhoneCall
from gateway.core.deadlines import WorkCalendar
from gateway.core.personal import PersonalDataCipher
from gateway.phone.options import PhoneOptions

OPEN, DONE, CANCELLED = "open", "done", "cancelled"
BATCH = 200


@dataclass
class StoreCounts:
    """What one import (or one webhook) did; ``callbacks`` counts new call-back tasks."""

    new: int = 0
    already: int = 0
    answered: int = 0
    matched: int = 0
    unmatched: int = 0
    callbacks: int = 0
    merged: int = 0
    reached_later: int = 0
    no_number: int = 0
    tasks_closed: int = 0
    case_codes: list[str] = field(default_factory=list)

    def add(self, other: StoreCounts) -> None:
        for name in ("new", "already", "answered", "matched", "unmatched", "callbacks", "merged", "reached_later",
                     "no_number", "tasks_closed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in ("new", "already", "answered", "matched", "unmatched",
                                                       "callbacks", "merged", "reached_later", "no_number",
                                                       "tasks_closed")}


class CallStore:
    """Writes call records and call-back tasks; one per process, no per-call state."""

    def __init__(self, cipher: PersonalDataCipher, calendar: WorkCalendar, options: PhoneOptions,
                 *, clock: Callable[[], datetime] | None = None) -> None:
        self.cipher = cipher
        self.calendar = calendar
        self.options = options
        self.clock = clock or (lambda: datetime.now(UTC))

    # ----- the transaction body (synchronous SQLAlchemy; run through Store.run_write) -----

    def store(self, session: Session, records: Iterable[CallRecord]) -> StoreCounts:
        counts = StoreCounts()
        now = self.clock()
        for record in records:
            self._store_one(session, record, now, counts)
        return counts

    def _store_one(self, session: Session, record: CallRecord, now: datetime, counts: StoreCounts) -> None:
        phone_hash = self.cipher.search_hash(record.caller)
        row_id = session.execute(insert_ignoring(dialect_of(session), PhoneCall, ("source", "call_id"), "id"), {
            "source": record.source, "call_id": record.call_id, "key_id": self.cipher.current_key_id,
            "caller_enc": self.cipher.seal(record.caller), "caller_hash": phone_hash,
            "started_at": record.started_at, "answered_at": record.answered_at, "ended_at": record.ended_at,
            "duration": record.duration, "talk_seconds": record.talk_seconds, "outcome": record.outcome,
            "disposition": (record.disposition or "")[:32] or None, "agent": record.agent, "case_id": None,
            "message_id": None, "imported_at": now,
        }).scalar_one_or_none()
        if row_id is None:
            counts.already += 1
            return
        counts.new += 1
        if record.outcome == "answered":
            counts.answered += 1
            match = self._match_log(session, record, phone_hash)
            if match is not None:
                case_id, message_id = match
                session.execute(update(PhoneCall).where(PhoneCall.id == row_id)
                                .values(case_id=case_id, message_id=message_id))
                counts.matched += 1
            elif record.source == "twilio":
                # Twilio answers every call with the voice mailbox: no case means no message was left.
                self._raise_task(session, "no_message", record, row_id, phone_hash, now, counts)
                return
            else:
                counts.unmatched += 1
            if phone_hash:
                counts.tasks_closed += close_tasks(session, phone_hash, before=record.started_at, now=now,
                                                   by="system:phone", note="群众再次来电已接通")
            return
        self._raise_task(session, record.outcome, record, row_id, phone_hash, now, counts)

    def _match_log(self, session: Session, record: CallRecord, phone_hash: str | None) -> tuple[int, int] | None:
        if record.source == "twilio":
            own = session.execute(select(Message.case_id, Message.id).where(
                Message.channel == "phone", Message.source_ref == record.call_id)).first()
            if own is not None:
                return own.case_id, own.id
        if not phone_hash:
            return None
        end = record.ended_at or record.started_at + timedelta(seconds=record.duration)
        low = record.started_at - timedelta(minutes=self.options.match_before_minutes)
        high = end + timedelta(minutes=self.options.match_after_minutes)
        # Channel and direction are checked here, not in SQL, so that the planner walks the number's
        # few cases (contacts' hash index) instead of every hotline message.
        candidates = [row for row in session.execute(
            select(Message.id, Message.case_id, Message.at, Message.channel, Message.direction)
            .where(Message.case_id.in_(_cases_of(phone_hash)), Message.at >= low, Message.at <= high,
                   ~exists().where(PhoneCall.message_id == Message.id))
            .limit(50)
        ).all() if row.channel == "phone" and row.direction == "in"]
        if not candidates:
            return None
        best = min(candidates, key=lambda row: abs(_aware(row.at) - record.started_at))
        return best.case_id, best.id

    def _raise_task(self, session: Session, kind: str, record: CallRecord, row_id: int, phone_hash: str | None,
                    now: datetime, counts: StoreCounts) -> None:
        if not record.caller or not phone_hash:
            counts.no_number += 1
            return
        if reached_later(session, phone_hash, record.started_at, exclude_call=row_id):
            counts.reached_later += 1
            return
        if session.execute(select(CallbackTask.id).where(
                CallbackTask.phone_hash == phone_hash, CallbackTask.status == OPEN).limit(1)).first():
            counts.merged += 1
            return
        if raise_task(session, self.cipher, self.calendar, kind=kind,
                      dedup_key=f"call:{record.source}:{record.call_id}", phone=record.caller,
                      called_at=record.started_at, now=now, call_row_id=row_id):
            counts.callbacks += 1


def _cases_of(phone_hash: str) -> Any:
    """The cases of a number, as a subquery: the planner starts from the contacts' hash index."""
    return select(Contact.case_id).where(Contact.phone_hash == phone_hash).scalar_subquery()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def raise_task(session: Session, cipher: PersonalDataCipher, calendar: WorkCalendar, *, kind: str, dedup_key: str,
               phone: str, called_at: datetime, now: datetime, call_row_id: int | None = None,
               case_id: int | None = None) -> bool:
    """Insert a call-back task (once per ``dedup_key``), due one office hour after the call."""
    due = calendar.add_office_time(called_at, timedelta(hours=1)).at
    inserted = session.execute(insert_ignoring(dialect_of(session), CallbackTask, ("dedup_key",), "id"), {
        "kind": kind, "dedup_key": dedup_key, "call_id": call_row_id, "case_id": case_id,
        "key_id": cipher.current_key_id, "phone_enc": cipher.seal(phone), "phone_hash": cipher.search_hash(phone),
        "called_at": called_at, "created_at": now, "due_at": due, "status": OPEN, "attempts": 0,
        "last_attempt_at": None, "retry_at": None, "closed_at": None, "closed_by": None, "note": None,
    }).scalar_one_or_none()
    return inserted is not None


def reached_later(session: Session, phone_hash: str, after: datetime, *, exclude_call: int | None = None) -> bool:
    """Whether the same number got through after ``after``: an answered call or a logged call."""
    answered = select(PhoneCall.id).where(PhoneCall.caller_hash == phone_hash, PhoneCall.outcome == "answered",
                                          PhoneCall.started_at > after)
    if exclude_call is not None:
        answered = answered.where(PhoneCall.id != exclude_call)
    if session.execute(answered.limit(1)).first():
        return True
    logged = select(Message.channel, Message.direction).where(
        Message.case_id.in_(_cases_of(phone_hash)), Message.at > after)
    return any(row.channel == "phone" and row.direction == "in" for row in session.execute(logged))


def close_tasks(session: Session, phone_hash: str, *, before: datetime, now: datetime, by: str, note: str) -> int:
    """Close the open call-back tasks of a number whose calls came before ``before``."""
    result = session.execute(
        update(CallbackTask)
        .where(CallbackTask.phone_hash == phone_hash, CallbackTask.status == OPEN, CallbackTask.called_at < before)
        .values(status=DONE, closed_at=now, closed_by=by[:64], note=note)
    )
    return int(result.rowcount or 0)


def link_calls_to_log(session: Session, phone_hash: str, *, case_id: int, message_id: int, at: datetime,
                      options: PhoneOptions) -> int:
    """An operator log saved after the import: link the unmatched answered call it describes."""
    low = at - timedelta(minutes=options.match_after_minutes) - timedelta(hours=2)
    high = at + timedelta(minutes=options.match_before_minutes)
    rows = session.execute(select(PhoneCall.id, PhoneCall.started_at).where(
        PhoneCall.caller_hash == phone_hash, PhoneCall.outcome == "answered", PhoneCall.message_id.is_(None),
        PhoneCall.started_at >= low, PhoneCall.started_at <= high)).all()
    if not rows:
        return 0
    best = min(rows, key=lambda row: abs(_aware(row.started_at) - at))
    session.execute(update(PhoneCall).where(PhoneCall.id == best.id).values(case_id=case_id, message_id=message_id))
    return 1


def batches(items: list[Any], size: int = BATCH) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
