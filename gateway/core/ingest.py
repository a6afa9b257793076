"""Exactly-once ingest: an ``Intake`` becomes a case (or a follow-up on one) in one transaction.

``(channel, source_ref)`` is unique on ``case_messages``.  A repeated input finds its message
inside the write transaction and returns the existing case, writing nothing.  Two concurrent
copies race to insert the message row; ``ON CONFLICT DO NOTHING`` lets exactly one win, and the
loser rolls back everything it wrote (tracking-code counter included) and returns the winner's
case.  The case, its contact, message, blobs, timeline events and acknowledgement all commit
together or not at all.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, insert, select, tuple_, update
from sqlalchemy.orm import Session

from channels.intake import Intake, ReplyChannel
from channels.web.tokens import status_pin
from gateway.core.blobs import BlobTooLarge, put_blob
from gateway.core.db.dialect import dialect_of, insert_for, insert_ignoring
from gateway.core.db.models import Attachment, Case, CaseEvent, Contact, Hall, Message, ServiceItem, Window
from gateway.core.db.store import Store
from gateway.core.deadlines import CaseDeadlines, DeadlinePolicy, WorkCalendar, deadlines_for
from gateway.core.domain import CaseStatus, Category
from gateway.core.outbox import OutgoingMessage, enqueue, enqueue_many
from gateway.core.personal import PersonalDataCipher
from gateway.core.rosters import Attribution, attribute, attribute_many
from gateway.core.settings import Settings
from gateway.core.sms_config import sms_ready
from gateway.core.sources import source_of
from gateway.core.tracking import day_key, next_code, next_codes
from gateway.core.workflow import CaseFacts, EventSpec, add_events, closes_on_arrival

log = logging.getLogger(__name__)


class TriageOutcome(Protocol):
    label: str
    reason: str | None
    confidence: float
    needs_review: bool

    def to_dict(self) -> dict[str, Any]: ...


class Classifier(Protocol):
    def classify(self, text: str, *, channel: str | None = None, rating: str | None = None,
                 reasons: Any = ()) -> TriageOutcome: ...


async def classify(classifier: Classifier, text: str, *, channel: str | None = None, rating: str | None = None,
                   reasons: Any = ()) -> TriageOutcome:
    """Off the event loop where the classifier can (``TriageService.classify_async``), else in-line."""
    run = getattr(classifier, "classify_async", None)
    if run is not None:
        return await run(text, channel=channel, rating=rating, reasons=reasons)  # type: ignore[no-any-return]
    return classifier.classify(text, channel=channel, rating=rating, reasons=reasons)


class IngestError(ValueError):
    """The intake names something the registry does not know (hall, window, service item)."""


@dataclass(frozen=True, slots=True)
class IngestResult:
    case_id: int
    case_code: str
    message_id: int
    created: bool
    duplicate: bool = False
    follow_up: bool = False


_DUPLICATE = (
    select(Message.id, Message.case_id, Case.code)
    .join(Case, Case.id == Message.case_id)
    .where(Message.channel == bindparam("channel"), Message.source_ref == bindparam("source_ref"))
)
_HALL_ID = select(Hall.id).where(Hall.code == bindparam("code"))
_WINDOW_ID = select(Window.id).where(Window.hall_id == bindparam("hall_id"), Window.code == bindparam("code"))
_ITEM_ID = select(ServiceItem.id).where(ServiceItem.code == bindparam("code"))
# Core statements on the tables (not the ORM entities): bulk rows skip the ORM's unit-of-work
# machinery, which costs more than the database round trip itself.
_CASES, _MESSAGES = Case.__table__, Message.__table__
_INSERT_CASE = insert(_CASES).returning(_CASES.c.id)
_INSERT_CASES = insert(_CASES).returning(_CASES.c.id, sort_by_parameter_order=True)
_INSERT_CONTACT = insert(Contact.__table__)
_INSERT_ATTACHMENTS = insert(Attachment.__table__)
_INSERT_EVENT_ROWS = insert(CaseEvent.__table__)
_SET_CODES = (update(Case.__table__).where(Case.__table__.c.id == bindparam("case_id"))
              .values(code=bindparam("new_code")))


@dataclass(frozen=True, slots=True)
class _Planned:
    """A new case, decided but not yet written."""

    intake: Intake
    triage: TriageOutcome
    hall_id: int | None
    window_id: int | None
    item_id: int | None
    attribution: Attribution
    category: Category
    due: CaseDeadlines
    status: CaseStatus
    reply_channel: ReplyChannel | None
    now: datetime


class _LostRace(Exception):
    """Another writer stored the same input first; roll back and return theirs."""


class IngestBatcher:
    """Group commit: intakes that arrive while a write transaction is running are written together
    in the next one, with a fixed number of statements per batch instead of per intake.

    Nothing waits on purpose: the first intake is written at once, and whatever queued meanwhile
    goes in the following transaction.  Each caller still gets its own result or error; a batch that
    loses a race with another writer is retried one intake at a time, so the exactly-once rule and
    the error of each intake stay exactly those of ``Ingestor.ingest_one``.
    """

    def __init__(self, ingestor: Ingestor, max_batch: int) -> None:
        self.ingestor = ingestor
        self.max_batch = max_batch
        self._pending: list[tuple[tuple[Intake, TriageOutcome, WorkCalendar], asyncio.Future[IngestResult]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drainer: asyncio.Task[None] | None = None
        self.batches = 0  # transactions that wrote more than one intake (for the benchmark and tests)
        self.batched = 0  # intakes written in those

    async def submit(self, intake: Intake, triage: TriageOutcome, calendar: WorkCalendar) -> IngestResult:
        loop = asyncio.get_running_loop()
        if self._loop is None or (self._loop is not loop and self._drainer is None):
            self._loop = loop
        if self._loop is not loop:  # another event loop (a test client's thread): no shared queue
            return await self.ingestor.ingest_one(intake, triage, calendar)
        future: asyncio.Future[IngestResult] = loop.create_future()
        self._pending.append(((intake, triage, calendar), future))
        if self._drainer is None:
            self._drainer = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(0)  # let intakes submitted in the same tick join the first batch
            while self._pending:
                batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
                outcomes = await self._write([item for item, _ in batch])
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self._drainer = None

    async def _write(self, items: list[tuple[Intake, TriageOutcome, WorkCalendar]]
                     ) -> list[IngestResult | BaseException]:
        if len(items) > 1:
            try:
                outcomes = list(await self.ingestor.store.run_write(
                    lambda session: self.ingestor.create_batch(session, items)))
                self.batches, self.batched = self.batches + 1, self.batched + len(items)
                return outcomes
            except _LostRace:  # another writer stored one of these first: one by one finds out which
                log.debug("ingest batch of %d lost a race; writing one at a time", len(items))
            except Exception as exc:  # a database error: one by one gives each intake its own outcome
                log.warning("ingest batch of %d failed (%s); writing one at a time", len(items), type(exc).__name__)
        outcomes: list[IngestResult | BaseException] = []
        for intake, triage, calendar in items:
            try:
                outcomes.append(await self.ingestor.ingest_one(intake, triage, calendar))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes


class Ingestor:
    """Stores intakes.  One per process; holds no per-request state."""

    def __init__(self, store: Store, settings: Settings, classifier: Classifier, cipher: PersonalDataCipher,
                 calendar: Callable[[], Any], *, clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.settings = settings
        self.deadline_policy = DeadlinePolicy.from_settings(settings)
        self.classifier = classifier
        self.cipher = cipher
        self.calendar = calendar
        self.clock = clock or (lambda: datetime.now(UTC))
        self.tz = ZoneInfo(settings.timezone)
        self._signing_key = settings.signing_key()
        self.batcher = IngestBatcher(self, settings.ingest_batch_max) if settings.ingest_batch_max > 1 else None
        self._registry_cache: dict[tuple[str | None, ...], tuple[float, tuple[int | None, int | None, int | None]]] = {}

    async def ingest(self, intake: Intake) -> IngestResult:
        triage = await classify(
            self.classifier,
            intake.text_for_triage if not intake.subject else f"{intake.subject}\n{intake.text_for_triage}",
            channel=intake.channel.value,
            rating=intake.rating.value if intake.rating else None,
            reasons=intake.reasons,
        )
        calendar: WorkCalendar = await self.calendar()
        if self.batcher is not None and self.batchable(intake):
            return await self.batcher.submit(intake, triage, calendar)
        return await self.ingest_one(intake, triage, calendar)

    async def ingest_one(self, intake: Intake, triage: TriageOutcome, calendar: WorkCalendar) -> IngestResult:
        """One intake in its own transaction (follow-ups, and the fallback of a batch that lost a race)."""

        def transaction(session: Session) -> IngestResult:
            duplicate = self._duplicate(session, intake)
            if duplicate is not None:
                return duplicate
            target = self._follow_up_target(session, intake)
            if target is not None:
                return self._add_follow_up(session, target, intake)
            return self._create_case(session, intake, triage, calendar)

        try:
            return await self.store.run_write(transaction)
        except _LostRace:
            found = await self.store.run_write(lambda session: self._duplicate(session, intake))
            if found is None:  # pragma: no cover - the winner committed before we rolled back
                raise
            return found

    # The transaction body below is synchronous SQLAlchemy: ``Store.run_write`` runs it in one
    # hop (a writer thread on SQLite, ``run_sync`` on PostgreSQL).

    @staticmethod
    def _duplicate(session: Session, intake: Intake) -> IngestResult | None:
        row = session.execute(_DUPLICATE, {"channel": intake.channel.value, "source_ref": intake.source_ref}).first()
        if row is None:
            return None
        return IngestResult(case_id=row.case_id, case_code=row.code, message_id=row.id, created=False, duplicate=True)

    def _follow_up_target(self, session: Session, intake: Intake) -> Case | None:
        """The case this intake continues: a referenced message of ours, or a quoted tracking code
        from the case's own contact (anyone else quoting it must not write into the case)."""
        if intake.references:
            row = session.execute(
                select(Case).join(Message, Message.case_id == Case.id)
                .where(Message.channel == intake.channel.value, Message.source_ref.in_(intake.references))
                .order_by(Message.id.desc()).limit(1)
            ).scalar_one_or_none()
            if row is not None:
                return row
        if intake.tracking_code:
            case = session.execute(select(Case).where(Case.code == intake.tracking_code)).scalar_one_or_none()
            if case is not None and self._same_contact(session, case.id, intake):
                return case
        return None

    def _same_contact(self, session: Session, case_id: int, intake: Intake) -> bool:
        contact = session.execute(select(Contact).where(Contact.case_id == case_id)).scalar_one_or_none()
        if contact is None:
            return False
        phone = self.cipher.search_hash(intake.contact.phone)
        email = self.cipher.search_hash(intake.contact.email)
        wechat = self.cipher.search_hash(intake.contact.wechat)
        return bool((phone and phone == contact.phone_hash) or (email and email == contact.email_hash)
                    or (wechat and wechat == contact.wechat_hash))

    def _registry_ids(self, session: Session, intake: Intake) -> tuple[int | None, int | None, int | None]:
        """Registry ids by code, cached for a minute: halls, windows and items are upserted, never
        deleted, so a cached id stays valid; an unknown code is looked up every time."""
        key = (intake.hall, intake.window, intake.service_item)
        now = time.monotonic()
        cached = self._registry_cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        ids = self._lookup_registry(session, intake)
        if len(self._registry_cache) > 10_000:
            self._registry_cache.clear()
        self._registry_cache[key] = (now + 60.0, ids)
        return ids

    @staticmethod
    def _lookup_registry(session: Session, intake: Intake) -> tuple[int | None, int | None, int | None]:
        hall_id = window_id = item_id = None
        if intake.hall:
            hall_id = session.execute(_HALL_ID, {"code": intake.hall}).scalar_one_or_none()
            if hall_id is None:
                raise IngestError(f"hall: unknown hall code {intake.hall!r}")
            if intake.window:
                window_id = session.execute(
                    _WINDOW_ID, {"hall_id": hall_id, "code": intake.window}).scalar_one_or_none()
                if window_id is None:
                    raise IngestError(f"window: hall {intake.hall} has no window {intake.window!r}")
        if intake.service_item:
            item_id = session.execute(_ITEM_ID, {"code": intake.service_item}).scalar_one_or_none()
            if item_id is None:
                raise IngestError(f"service_item: unknown service item code {intake.service_item!r}")
        return hall_id, window_id, item_id

    def _raw_blob(self, session: Session, intake: Intake) -> tuple[str | None, dict[str, Any]]:
        """Store the original (once, by content hash); an oversize one is noted, not stored."""
        extra: dict[str, Any] = dict(intake.extra)
        if intake.raw is None:
            return None, extra
        try:
            return put_blob(session, intake.raw.content, intake.raw.media_type,
                            max_bytes=self.settings.max_blob_bytes), extra
        except BlobTooLarge as exc:
            extra["raw_rejected"] = f"{exc} (sha256 {intake.raw.sha256})"
            return None, extra

    @staticmethod
    def _message_row(case_id: int, intake: Intake, raw_sha: str | None, extra: dict[str, Any]) -> dict[str, Any]:
        return {"case_id": case_id, "direction": "in", "channel": intake.channel.value,
                "source_ref": intake.source_ref, "at": intake.received_at, "subject": intake.subject,
                "text": intake.text, "raw_sha256": raw_sha, "extra": extra, "public": False, "author": None}

    def _insert_message(self, session: Session, case_id: int, intake: Intake) -> int:
        raw_sha, extra = self._raw_blob(session, intake)
        statement = insert_ignoring(dialect_of(session), Message, ("channel", "source_ref"), "id")
        message_id = session.execute(statement, self._message_row(case_id, intake, raw_sha, extra)
                                     ).scalar_one_or_none()
        if message_id is None:
            raise _LostRace
        self._insert_attachments(session, message_id, intake)
        return message_id

    def _insert_attachments(self, session: Session, message_id: int, intake: Intake) -> None:
        rows = []
        for attachment in intake.attachments:
            sha, rejected = attachment.sha256, attachment.rejected
            if attachment.content is not None:
                try:
                    put_blob(session, attachment.content, attachment.media_type,
                             max_bytes=self.settings.max_attachment_bytes)
                except BlobTooLarge as exc:
                    rejected = f"too large: {exc}"
            rows.append({"message_id": message_id, "name": attachment.name, "media_type": attachment.media_type,
                         "size": attachment.size, "sha256": None if rejected else sha, "rejected": rejected,
                         "content_id": attachment.content_id})
        if rows:
            session.execute(_INSERT_ATTACHMENTS, rows)

    def _add_follow_up(self, session: Session, case: Case, intake: Intake) -> IngestResult:
        now = self.clock()
        message_id = self._insert_message(session, case.id, intake)
        add_events(session, case.id, now, [EventSpec(
            kind="follow_up", actor=f"citizen:{intake.channel.value}", note=intake.subject,
            data={"message_id": message_id, "case_status": case.status},
        )])
        case.updated_at = now
        return IngestResult(case_id=case.id, case_code=case.code, message_id=message_id, created=False,
                            follow_up=True)

    def _plan(self, session: Session, intake: Intake, triage: TriageOutcome, calendar: WorkCalendar,
              ids: tuple[int | None, int | None, int | None] | None = None,
              attribution: Attribution | None = None) -> _Planned:
        """Everything about a new case that needs no write: registry ids, staff, category, deadlines."""
        hall_id, window_id, item_id = ids or self._registry_ids(session, intake)
        if attribution is None:
            attribution = attribute(session, intake, hall_id, window_id)
        category = Category(triage.label)
        facts = CaseFacts(status=CaseStatus.TRIAGED, category=category, rating=intake.rating,
                          real_name=intake.contact.real_name, reason=triage.reason)
        if triage.needs_review:
            status = CaseStatus.NEEDS_REVIEW
        elif closes_on_arrival(facts):  # the workflow's own guard: praise, spam, empty, never a 差评
            status = CaseStatus.CLOSED
        else:
            status = CaseStatus.TRIAGED
        due = deadlines_for(category, intake.received_at, calendar, bad=facts.is_bad, reason=triage.reason,
                            policy=self.deadline_policy)
        return _Planned(intake, triage, hall_id, window_id, item_id, attribution, category, due, status,
                        self._reply_channel(intake), self.clock())

    @staticmethod
    def _case_row(plan: _Planned) -> dict[str, Any]:
        # The per-day counter row is locked until commit; it is taken last so that concurrent
        # ingests (PostgreSQL) hold it as briefly as possible.  Until then the case has a unique placeholder.
        intake, triage, due, now = plan.intake, plan.triage, plan.due, plan.now
        return dict(
            code=f"~{uuid.uuid4().hex[:30]}", channel=intake.channel.value,
            source=source_of(intake.channel.value, intake.extra), status=plan.status.value,
            received_at=intake.received_at, created_at=now, updated_at=now,
            closed_at=now if plan.status is CaseStatus.CLOSED else None,
            subject=intake.subject, text=intake.text, rating=intake.rating.value if intake.rating else None,
            reasons=list(intake.reasons), hall_id=plan.hall_id, window_id=plan.window_id,
            service_item_id=plan.item_id, real_name=intake.contact.real_name,
            reply_channel=plan.reply_channel.value if plan.reply_channel else None,
            category=plan.category.value, reason=triage.reason, confidence=triage.confidence,
            needs_review=triage.needs_review, triage_terms=triage.to_dict().get("terms", []),
            first_response_due=due.first_response_due, result_due=due.result_due,
            deadline_uncertain=not due.certain, due_provisional=due.provisional, verdict=None,
            first_responded_at=None, result_at=None,
            staff_id=plan.attribution.staff_id, staff_attribution=plan.attribution.kind,
        )

    def _contact_row(self, plan: _Planned, case_id: int) -> dict[str, Any] | None:
        contact = plan.intake.contact
        if contact.is_empty:
            return None
        return dict(case_id=case_id, key_id=self.cipher.current_key_id, name_enc=self.cipher.seal(contact.name),
                    phone_enc=self.cipher.seal(contact.phone), email_enc=self.cipher.seal(contact.email),
                    phone_hash=self.cipher.search_hash(contact.phone),
                    email_hash=self.cipher.search_hash(contact.email),
                    wechat_enc=self.cipher.seal(contact.wechat), wechat_hash=self.cipher.search_hash(contact.wechat))

    @staticmethod
    def _events(plan: _Planned, message_id: int) -> list[EventSpec]:
        intake, triage = plan.intake, plan.triage
        events = [
            EventSpec("received", f"citizen:{intake.channel.value}", None, CaseStatus.RECEIVED.value,
                      data={"message_id": message_id}),
            EventSpec("flag_for_review" if triage.needs_review else "triage", "system:triage",
                      CaseStatus.RECEIVED.value,
                      CaseStatus.NEEDS_REVIEW.value if triage.needs_review else CaseStatus.TRIAGED.value,
                      data={"label": triage.label, "reason": triage.reason, "confidence": triage.confidence,
                            "deadline_uncertain": not plan.due.certain}),
        ]
        if plan.attribution.kind == "ambiguous":
            events.append(EventSpec("attribution", "system:rosters", note="评价时段窗口有多名工作人员在岗，需人工确认",
                                    data={"candidates": list(plan.attribution.candidates)}))
        if plan.status is CaseStatus.CLOSED:
            events.append(EventSpec("close", "system:triage", CaseStatus.TRIAGED.value, CaseStatus.CLOSED.value,
                                    note="无需整改，自动办结"))
        return events

    def _ack_for(self, plan: _Planned, case_id: int, code: str) -> OutgoingMessage | None:
        if plan.reply_channel not in (ReplyChannel.EMAIL, ReplyChannel.SMS):
            return None
        return self._acknowledgement(case_id, code, plan.intake, plan.reply_channel, plan.category,
                                     plan.due.first_response_due, reason=plan.triage.reason,
                                     closed=plan.status is CaseStatus.CLOSED)

    def _create_case(self, session: Session, intake: Intake, triage: TriageOutcome,
                     calendar: WorkCalendar) -> IngestResult:
        plan = self._plan(session, intake, triage, calendar)
        case_id = session.execute(_INSERT_CASE, self._case_row(plan)).scalar_one()
        message_id = self._insert_message(session, case_id, intake)
        contact_row = self._contact_row(plan, case_id)
        if contact_row is not None:
            session.execute(_INSERT_CONTACT, contact_row)
        add_events(session, case_id, plan.now, self._events(plan, message_id))
        code = next_code(session, self.settings.tracking_prefix, day_key(intake.received_at, self.tz))
        session.execute(_SET_CODES, {"case_id": case_id, "new_code": code})
        ack = self._ack_for(plan, case_id, code)
        if ack is not None:
            enqueue(session, self.cipher, ack)
        return IngestResult(case_id=case_id, case_code=code, message_id=message_id, created=True)

    # ----- group commit ------------------------------------------------------------------------------

    @staticmethod
    def batchable(intake: Intake) -> bool:
        """New-case candidates without follow-up clues: the common web, paper and phone intake.
        Anything that may continue an existing case takes the one-at-a-time path."""
        return not intake.references and not intake.tracking_code

    def create_batch(self, session: Session, items: list[tuple[Intake, TriageOutcome, WorkCalendar]]
                     ) -> list[IngestResult | Exception]:
        """Ingest many batchable intakes in one transaction with a fixed number of statements.

        Semantics are those of ``ingest`` for each item: a stored duplicate (or a second copy in the
        batch) returns the first case; an unknown hall is that item's ``IngestError``.  If another
        writer stores one of the inputs between our check and our insert, ``_LostRace`` rolls the
        whole batch back and the caller retries the items one at a time.
        """
        results: list[IngestResult | Exception | None] = [None] * len(items)
        first: dict[tuple[str, str], int] = {}
        copies: dict[int, int] = {}
        for index, (intake, _, _) in enumerate(items):
            key = (intake.channel.value, intake.source_ref)
            if key in first:
                copies[index] = first[key]
            else:
                first[key] = index
        for row in session.execute(
            select(Message.id, Message.case_id, Message.channel, Message.source_ref, Case.code)
            .join(Case, Case.id == Message.case_id)
            .where(tuple_(Message.channel, Message.source_ref).in_(list(first)))
        ):
            results[first[(row.channel, row.source_ref)]] = IngestResult(
                case_id=row.case_id, case_code=row.code, message_id=row.id, created=False, duplicate=True)
        known: list[tuple[int, tuple[int | None, int | None, int | None]]] = []
        for index in first.values():
            if results[index] is not None:
                continue
            try:
                known.append((index, self._registry_ids(session, items[index][0])))
            except IngestError as exc:
                results[index] = exc
        attributions = attribute_many(session, [(items[index][0], ids[0], ids[1]) for index, ids in known])
        plans = [(index, self._plan(session, items[index][0], items[index][1], items[index][2], ids, attribution))
                 for (index, ids), attribution in zip(known, attributions, strict=True)]
        if plans:
            self._write_batch(session, plans, results)
        for index, original in copies.items():
            found = results[original]
            results[index] = (IngestResult(case_id=found.case_id, case_code=found.case_code,
                                           message_id=found.message_id, created=False, duplicate=True)
                              if isinstance(found, IngestResult) else found)
        done = [result for result in results if result is not None]
        assert len(done) == len(items), "every item of a batch has an outcome"
        return done

    def _write_batch(self, session: Session, plans: list[tuple[int, _Planned]],
                     results: list[IngestResult | Exception | None]) -> None:
        case_ids = list(session.execute(
            _INSERT_CASES,
            [self._case_row(plan) for _, plan in plans]).scalars())
        message_rows = []
        for case_id, (_, plan) in zip(case_ids, plans, strict=True):
            raw_sha, extra = self._raw_blob(session, plan.intake)
            message_rows.append(self._message_row(case_id, plan.intake, raw_sha, extra))
        stored = {(row.channel, row.source_ref): row.id for row in session.execute(
            insert_for(session)(_MESSAGES).on_conflict_do_nothing(index_elements=[_MESSAGES.c.channel,
                                                                                  _MESSAGES.c.source_ref])
            .returning(_MESSAGES.c.id, _MESSAGES.c.channel, _MESSAGES.c.source_ref), message_rows)}
        if len(stored) != len(plans):
            raise _LostRace
        message_ids = [stored[(plan.intake.channel.value, plan.intake.source_ref)] for _, plan in plans]
        for message_id, (_, plan) in zip(message_ids, plans, strict=True):
            if plan.intake.attachments:
                self._insert_attachments(session, message_id, plan.intake)
        contacts = [row for row in (self._contact_row(plan, case_id)
                                    for case_id, (_, plan) in zip(case_ids, plans, strict=True)) if row]
        if contacts:
            session.execute(_INSERT_CONTACT, contacts)
        session.execute(_INSERT_EVENT_ROWS, [
            {"case_id": case_id, "at": plan.now, "actor": e.actor, "kind": e.kind, "from_status": e.from_status,
             "to_status": e.to_status, "note": e.note, "data": e.data}
            for case_id, message_id, (_, plan) in zip(case_ids, message_ids, plans, strict=True)
            for e in self._events(plan, message_id)])
        by_day: dict[str, list[int]] = {}
        for position, (_, plan) in enumerate(plans):
            by_day.setdefault(day_key(plan.intake.received_at, self.tz), []).append(position)
        codes: list[str] = [""] * len(plans)
        for day, positions in sorted(by_day.items()):
            for position, code in zip(positions, next_codes(session, self.settings.tracking_prefix, day,
                                                            len(positions)), strict=True):
                codes[position] = code
        session.execute(_SET_CODES, [{"case_id": case_id, "new_code": code}
                                     for case_id, code in zip(case_ids, codes, strict=True)])
        acks = [ack for ack in (self._ack_for(plan, case_id, code)
                                for case_id, code, (_, plan) in zip(case_ids, codes, plans, strict=True)) if ack]
        if acks:
            enqueue_many(session, self.cipher, acks)
        for case_id, message_id, code, (index, _) in zip(case_ids, message_ids, codes, plans, strict=True):
            results[index] = IngestResult(case_id=case_id, case_code=code, message_id=message_id, created=True)

    def _reply_channel(self, intake: Intake) -> ReplyChannel | None:
        contact = intake.contact
        if contact.preferred_channel is ReplyChannel.SMS and not sms_ready(self.settings):
            # No SMS can leave (gateway/core/sms_config.py): staff call instead, and nothing is queued
            # that would wait forever.
            return ReplyChannel.PHONE
        if contact.preferred_channel is not None:
            return contact.preferred_channel
        if intake.channel.value == "email" and contact.email:
            return ReplyChannel.EMAIL
        if intake.channel.value == "wechat" and contact.wechat:
            return ReplyChannel.WECHAT
        if contact.phone:
            return ReplyChannel.PHONE
        return None

    def _acknowledgement(self, case_id: int, code: str, intake: Intake, channel: ReplyChannel,
                         category: Category, first_due: datetime | None, *, reason: str | None = None,
                         closed: bool = False) -> OutgoingMessage:
        due_text = f"{first_due.astimezone(self.tz):%Y-%m-%d %H:%M}" if first_due is not None else ""
        rating = intake.rating
        if closed or (rating is not None and rating.is_good):
            # A 好评 is thanked, whatever its text was sorted as: no rectification is promised.
            next_step = ("感谢您的好评！您的评价已记录。" if rating is not None and rating.is_good
                         else "感谢您的评价，我们会认真听取您的意见。")
        elif category is Category.NONE and reason == "inquiry" and first_due is not None:
            next_step = f"您的咨询已转交工作人员，将在 {due_text} 前答复您。"
        elif category is Category.NONE and reason == "suggestion" and first_due is not None:
            next_step = f"感谢您的建议！工作人员将认真研究，并在 {due_text} 前答复您。"
        elif category is Category.NONE and first_due is not None:
            next_step = f"您的评价已转交工作人员核实，将在 {due_text} 前与您联系。"
        elif category is Category.IMMEDIATE and first_due is not None and intake.contact.phone:
            # 立整立改: a call back (回电) within one office hour; the rectification follows it.
            next_step = f"您反映的问题属于“立整立改”类，工作人员将在 {due_text} 前给您回电（办公时间 1 小时内）。"
        elif first_due is not None:
            next_step = (f"您反映的问题属于“{category.label}”类，工作人员将在 "
                         f"{first_due.astimezone(self.tz):%Y-%m-%d %H:%M} 前与您联系。")
        else:
            next_step = f"您反映的问题属于“{category.label}”类，工作人员将与您联系并告知办理期限。"
        # The status lookup asks for the phone's last four digits, or, for a citizen who left no
        # phone, the 查询码 derived from the code (channels.web.tokens.status_pin).
        second = ("手机号后四位" if intake.contact.phone
                  else f"查询码 {status_pin(self._signing_key, code)}")
        body = (f"您好！您的意见已受理，受理编号：{code}。\n{next_step}\n"
                + (f"凭受理编号和{second}可在 {self.settings.public_url.rstrip('/')}/status 查询办理进度。"
                   if self.settings.public_url_configured else f"凭受理编号和{second}可向办理窗口查询办理进度。")
                + f"{'本邮件' if channel is ReplyChannel.EMAIL else '本短信'}为自动回复。")
        recipient = intake.contact.email if channel is ReplyChannel.EMAIL else intake.contact.phone
        subject = f"[{code}] 您的意见已受理" + (f"：{intake.subject}" if intake.subject else "")
        return OutgoingMessage(
            channel="email" if channel is ReplyChannel.EMAIL else "sms", kind="acknowledgement",
            recipient=recipient or "", subject=subject[:300], body=body, case_id=case_id,
            dedup_key=f"ack:{case_id}",
            payload={"in_reply_to": intake.source_ref if intake.channel.value == "email" else None,
                     "tracking_code": code},
        )
