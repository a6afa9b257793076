"""Exactly-once ingest: an ``Intake`` becomes a case (or a follow-up on one) in one transaction.

``(channel, source_ref)`` is unique on ``case_messages``.  A repeated input finds its message
inside the write transaction and returns the existing case, writing nothing.  Two concurrent
copies race to insert the message row; ``ON CONFLICT DO NOTHING`` lets exactly one win, and the
loser rolls back everything it wrote (tracking-code counter included) and returns the winner's
case.  The case, its contact, message, blobs, timeline events and acknowledgement all commit
together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from channels.intake import Intake, ReplyChannel
from gateway.blobs import BlobTooLarge, put_blob
from gateway.db.dialect import dialect_of, insert_ignoring
from gateway.db.models import Attachment, Case, Contact, Hall, Message, ServiceItem, Window
from gateway.db.store import Store
from gateway.deadlines import WorkCalendar, deadlines_for
from gateway.domain import CaseStatus, Category
from gateway.outbox import OutgoingMessage, enqueue
from gateway.personal import PersonalDataCipher
from gateway.rosters import attribute
from gateway.settings import Settings
from gateway.tracking import day_key, next_code
from gateway.workflow import EventSpec, add_events


class TriageOutcome(Protocol):
    label: str
    reason: str | None
    confidence: float
    needs_review: bool

    def to_dict(self) -> dict[str, Any]: ...


class Classifier(Protocol):
    def classify(self, text: str, *, channel: str | None = None, rating: str | None = None,
                 reasons: Any = ()) -> TriageOutcome: ...


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
_INSERT_CASE = insert(Case).returning(Case.id)
_INSERT_CONTACT = insert(Contact)
_SET_CODE = update(Case).where(Case.id == bindparam("case_id")).values(code=bindparam("code"))
_INSERT_ATTACHMENTS = insert(Attachment)


class _LostRace(Exception):
    """Another writer stored the same input first; roll back and return theirs."""


class Ingestor:
    """Stores intakes.  One per process; holds no per-request state."""

    def __init__(self, store: Store, settings: Settings, classifier: Classifier, cipher: PersonalDataCipher,
                 calendar: Callable[[], Any], *, clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.settings = settings
        self.classifier = classifier
        self.cipher = cipher
        self.calendar = calendar
        self.clock = clock or (lambda: datetime.now(UTC))
        self.tz = ZoneInfo(settings.timezone)

    async def ingest(self, intake: Intake) -> IngestResult:
        triage = self.classifier.classify(
            intake.text_for_triage if not intake.subject else f"{intake.subject}\n{intake.text_for_triage}",
            channel=intake.channel.value,
            rating=intake.rating.value if intake.rating else None,
            reasons=intake.reasons,
        )
        calendar: WorkCalendar = await self.calendar()

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
        return bool((phone and phone == contact.phone_hash) or (email and email == contact.email_hash))

    @staticmethod
    def _registry_ids(session: Session, intake: Intake) -> tuple[int | None, int | None, int | None]:
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

    def _insert_message(self, session: Session, case_id: int, intake: Intake) -> int:
        raw_sha = None
        extra: dict[str, Any] = dict(intake.extra)
        if intake.raw is not None:
            try:
                raw_sha = put_blob(session, intake.raw.content, intake.raw.media_type,
                                   max_bytes=self.settings.max_blob_bytes)
            except BlobTooLarge as exc:
                extra["raw_rejected"] = f"{exc} (sha256 {intake.raw.sha256})"
        statement = insert_ignoring(dialect_of(session), Message, ("channel", "source_ref"), "id")
        message_id = session.execute(statement, {
            "case_id": case_id, "direction": "in", "channel": intake.channel.value, "source_ref": intake.source_ref,
            "at": intake.received_at, "subject": intake.subject, "text": intake.text, "raw_sha256": raw_sha,
            "extra": extra, "public": False, "author": None,
        }).scalar_one_or_none()
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
                         "size": attachment.size, "sha256": None if rejected else sha, "rejected": rejected})
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

    def _create_case(self, session: Session, intake: Intake, triage: TriageOutcome,
                     calendar: WorkCalendar) -> IngestResult:
        now = self.clock()
        hall_id, window_id, item_id = self._registry_ids(session, intake)
        attribution = attribute(session, intake, hall_id, window_id)
        category = Category(triage.label)
        due = deadlines_for(category, intake.received_at, calendar)
        if triage.needs_review:
            status = CaseStatus.NEEDS_REVIEW
        elif category is Category.NONE:
            status = CaseStatus.CLOSED
        else:
            status = CaseStatus.TRIAGED
        # The per-day counter row is locked until commit; take it last so that concurrent ingests
        # (PostgreSQL) hold it as briefly as possible.  Until then the case has a unique placeholder.
        code = f"~{uuid.uuid4().hex[:30]}"
        contact = intake.contact
        reply_channel = self._reply_channel(intake)
        triage_data = triage.to_dict()
        case_id = session.execute(_INSERT_CASE, dict(
            code=code, channel=intake.channel.value, status=status.value, received_at=intake.received_at,
            created_at=now, updated_at=now, closed_at=now if status is CaseStatus.CLOSED else None,
            subject=intake.subject, text=intake.text, rating=intake.rating.value if intake.rating else None,
            reasons=list(intake.reasons), hall_id=hall_id, window_id=window_id, service_item_id=item_id,
            real_name=contact.real_name, reply_channel=reply_channel.value if reply_channel else None,
            category=category.value, reason=triage.reason, confidence=triage.confidence,
            needs_review=triage.needs_review, triage_terms=triage_data.get("terms", []),
            first_response_due=due.first_response_due, result_due=due.result_due,
            deadline_uncertain=not due.certain, verdict=None, first_responded_at=None, result_at=None,
            staff_id=attribution.staff_id, staff_attribution=attribution.kind,
        )).scalar_one()
        message_id = self._insert_message(session, case_id, intake)
        if not contact.is_empty:
            session.execute(_INSERT_CONTACT, dict(
                case_id=case_id, key_id=self.cipher.current_key_id, name_enc=self.cipher.seal(contact.name),
                phone_enc=self.cipher.seal(contact.phone), email_enc=self.cipher.seal(contact.email),
                phone_hash=self.cipher.search_hash(contact.phone), email_hash=self.cipher.search_hash(contact.email),
            ))
        events = [
            EventSpec("received", f"citizen:{intake.channel.value}", None, CaseStatus.RECEIVED.value,
                      data={"message_id": message_id}),
            EventSpec("flag_for_review" if triage.needs_review else "triage", "system:triage",
                      CaseStatus.RECEIVED.value,
                      CaseStatus.NEEDS_REVIEW.value if triage.needs_review else CaseStatus.TRIAGED.value,
                      data={"label": triage.label, "reason": triage.reason, "confidence": triage.confidence,
                            "deadline_uncertain": not due.certain}),
        ]
        if attribution.kind == "ambiguous":
            events.append(EventSpec("attribution", "system:rosters", note="评价时段窗口有多名工作人员在岗，需人工确认",
                                    data={"candidates": list(attribution.candidates)}))
        if status is CaseStatus.CLOSED:
            events.append(EventSpec("close", "system:triage", CaseStatus.TRIAGED.value, CaseStatus.CLOSED.value,
                                    note="无需整改，自动办结"))
        add_events(session, case_id, now, events)
        code = next_code(session, self.settings.tracking_prefix, day_key(intake.received_at, self.tz))
        session.execute(_SET_CODE, {"case_id": case_id, "code": code})
        if reply_channel in (ReplyChannel.EMAIL, ReplyChannel.SMS):
            enqueue(session, self.cipher, self._acknowledgement(
                case_id, code, intake, reply_channel, category, due.first_response_due))
        return IngestResult(case_id=case_id, case_code=code, message_id=message_id, created=True)

    @staticmethod
    def _reply_channel(intake: Intake) -> ReplyChannel | None:
        contact = intake.contact
        if contact.preferred_channel is not None:
            return contact.preferred_channel
        if intake.channel.value == "email" and contact.email:
            return ReplyChannel.EMAIL
        if contact.phone:
            return ReplyChannel.PHONE
        return None

    def _acknowledgement(self, case_id: int, code: str, intake: Intake, channel: ReplyChannel,
                         category: Category, first_due: datetime | None) -> OutgoingMessage:
        if category is Category.NONE:
            next_step = "感谢您的评价，我们会认真听取您的意见。"
        elif first_due is not None:
            next_step = (f"您反映的问题属于“{category.label}”类，工作人员将在 "
                         f"{first_due.astimezone(self.tz):%Y-%m-%d %H:%M} 前与您联系。")
        else:
            next_step = f"您反映的问题属于“{category.label}”类，工作人员将与您联系并告知办理期限。"
        body = (f"您好！您的意见已受理，受理编号：{code}。\n{next_step}\n"
                f"凭受理编号和手机号后四位可查询办理进度。本邮件为自动回复。")
        recipient = intake.contact.email if channel is ReplyChannel.EMAIL else intake.contact.phone
        subject = f"[{code}] 您的意见已受理" + (f"：{intake.subject}" if intake.subject else "")
        return OutgoingMessage(
            channel="email" if channel is ReplyChannel.EMAIL else "sms", kind="acknowledgement",
            recipient=recipient or "", subject=subject[:300], body=body, case_id=case_id,
            dedup_key=f"ack:{case_id}",
            payload={"in_reply_to": intake.source_ref if intake.channel.value == "email" else None,
                     "tracking_code": code},
        )
