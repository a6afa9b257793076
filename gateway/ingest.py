"""Exactly-once ingest: an ``Intake`` becomes a case (or a follow-up on one) in one transaction.

``(channel, source_ref)`` is unique on ``case_messages``.  A repeated input finds its message and
returns the existing case without writing; two concurrent copies race to insert the message row,
``ON CONFLICT DO NOTHING`` lets exactly one win, and the loser rolls back everything it had
written (tracking-code counter included) and returns the winner's case.  The case, its contact,
message, blobs, timeline events and acknowledgement all commit together or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.intake import Intake, ReplyChannel
from gateway.blobs import BlobTooLarge, put_blob
from gateway.db.dialect import insert_for
from gateway.db.models import Attachment, Case, Contact, Hall, Message, ServiceItem, Window
from gateway.db.store import Store
from gateway.deadlines import WorkCalendar, deadlines_for
from gateway.domain import CaseStatus, Category
from gateway.outbox import OutgoingMessage, enqueue
from gateway.personal import PersonalDataCipher
from gateway.settings import Settings
from gateway.tracking import day_key, next_code
from gateway.workflow import EventSpec, add_events

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
        existing = await self._find_existing(intake)
        if existing is not None:
            return existing
        triage = self.classifier.classify(
            intake.text_for_triage if not intake.subject else f"{intake.subject}\n{intake.text_for_triage}",
            channel=intake.channel.value,
            rating=intake.rating.value if intake.rating else None,
            reasons=intake.reasons,
        )
        calendar: WorkCalendar = await self.calendar()
        try:
            async with self.store.write() as session:
                duplicate = await self._duplicate(session, intake)
                if duplicate is not None:
                    return duplicate
                target = await self._follow_up_target(session, intake)
                if target is not None:
                    return await self._add_follow_up(session, target, intake)
                return await self._create_case(session, intake, triage, calendar)
        except _LostRace:
            found = await self._find_existing(intake)
            if found is None:  # pragma: no cover - the winner committed before we rolled back
                raise
            return found

    # ----- lookups ---------------------------------------------------------------------------

    async def _find_existing(self, intake: Intake) -> IngestResult | None:
        async with self.store.read() as session:
            return await self._duplicate(session, intake)

    @staticmethod
    async def _duplicate(session: AsyncSession, intake: Intake) -> IngestResult | None:
        row = (await session.execute(
            select(Message.id, Message.case_id, Case.code)
            .join(Case, Case.id == Message.case_id)
            .where(Message.channel == intake.channel.value, Message.source_ref == intake.source_ref)
        )).first()
        if row is None:
            return None
        return IngestResult(case_id=row.case_id, case_code=row.code, message_id=row.id, created=False, duplicate=True)

    async def _follow_up_target(self, session: AsyncSession, intake: Intake) -> Case | None:
        """The case this intake continues: a referenced message of ours, or a quoted tracking code
        from the case's own contact (anyone else quoting it must not write into the case)."""
        if intake.references:
            row = (await session.execute(
                select(Case).join(Message, Message.case_id == Case.id)
                .where(Message.channel == intake.channel.value, Message.source_ref.in_(intake.references))
                .order_by(Message.id.desc()).limit(1)
            )).scalar_one_or_none()
            if row is not None:
                return row
        if intake.tracking_code:
            case = (await session.execute(select(Case).where(Case.code == intake.tracking_code))).scalar_one_or_none()
            if case is not None and await self._same_contact(session, case.id, intake):
                return case
        return None

    async def _same_contact(self, session: AsyncSession, case_id: int, intake: Intake) -> bool:
        contact = (await session.execute(select(Contact).where(Contact.case_id == case_id))).scalar_one_or_none()
        if contact is None:
            return False
        phone = self.cipher.search_hash(intake.contact.phone)
        email = self.cipher.search_hash(intake.contact.email)
        return bool((phone and phone == contact.phone_hash) or (email and email == contact.email_hash))

    async def _registry_ids(self, session: AsyncSession, intake: Intake) -> tuple[int | None, int | None, int | None]:
        hall_id = window_id = item_id = None
        if intake.hall:
            hall_id = (await session.execute(select(Hall.id).where(Hall.code == intake.hall))).scalar_one_or_none()
            if hall_id is None:
                raise IngestError(f"hall: unknown hall code {intake.hall!r}")
            if intake.window:
                window_id = (await session.execute(
                    select(Window.id).where(Window.hall_id == hall_id, Window.code == intake.window)
                )).scalar_one_or_none()
                if window_id is None:
                    raise IngestError(f"window: hall {intake.hall} has no window {intake.window!r}")
        if intake.service_item:
            item_id = (await session.execute(
                select(ServiceItem.id).where(ServiceItem.code == intake.service_item)
            )).scalar_one_or_none()
            if item_id is None:
                raise IngestError(f"service_item: unknown service item code {intake.service_item!r}")
        return hall_id, window_id, item_id

    # ----- writes ----------------------------------------------------------------------------

    async def _insert_message(self, session: AsyncSession, case_id: int, intake: Intake, now: datetime) -> int:
        raw_sha = None
        extra: dict[str, Any] = dict(intake.extra)
        if intake.raw is not None:
            try:
                raw_sha = await put_blob(session, intake.raw.content, intake.raw.media_type,
                                         max_bytes=self.settings.max_blob_bytes)
            except BlobTooLarge as exc:
                extra["raw_rejected"] = f"{exc} (sha256 {intake.raw.sha256})"
        statement = insert_for(session)(Message).values(
            case_id=case_id, direction="in", channel=intake.channel.value, source_ref=intake.source_ref,
            at=intake.received_at, subject=intake.subject, text=intake.text, raw_sha256=raw_sha, extra=extra,
            public=False,
        ).on_conflict_do_nothing(index_elements=[Message.channel, Message.source_ref]).returning(Message.id)
        message_id = (await session.execute(statement)).scalar_one_or_none()
        if message_id is None:
            raise _LostRace
        await self._insert_attachments(session, message_id, intake)
        return message_id

    async def _insert_attachments(self, session: AsyncSession, message_id: int, intake: Intake) -> None:
        rows = []
        for attachment in intake.attachments:
            sha, rejected = attachment.sha256, attachment.rejected
            if attachment.content is not None:
                try:
                    await put_blob(session, attachment.content, attachment.media_type,
                                   max_bytes=self.settings.max_attachment_bytes)
                except BlobTooLarge as exc:
                    rejected = f"too large: {exc}"
            rows.append({"message_id": message_id, "name": attachment.name, "media_type": attachment.media_type,
                         "size": attachment.size, "sha256": None if rejected else sha, "rejected": rejected})
        if rows:
            await session.execute(insert(Attachment), rows)

    async def _add_follow_up(self, session: AsyncSession, case: Case, intake: Intake) -> IngestResult:
        now = self.clock()
        message_id = await self._insert_message(session, case.id, intake, now)
        await add_events(session, case.id, now, [EventSpec(
            kind="follow_up", actor=f"citizen:{intake.channel.value}", note=intake.subject,
            data={"message_id": message_id, "case_status": case.status},
        )])
        case.updated_at = now
        return IngestResult(case_id=case.id, case_code=case.code, message_id=message_id, created=False,
                            follow_up=True)

    async def _create_case(self, session: AsyncSession, intake: Intake, triage: TriageOutcome,
                           calendar: WorkCalendar) -> IngestResult:
        now = self.clock()
        hall_id, window_id, item_id = await self._registry_ids(session, intake)
        category = Category(triage.label)
        due = deadlines_for(category, intake.received_at, calendar)
        if triage.needs_review:
            status = CaseStatus.NEEDS_REVIEW
        elif category is Category.NONE:
            status = CaseStatus.CLOSED
        else:
            status = CaseStatus.TRIAGED
        code = await next_code(session, self.settings.tracking_prefix, day_key(intake.received_at, self.tz))
        contact = intake.contact
        reply_channel = self._reply_channel(intake)
        triage_data = triage.to_dict()
        case_id = (await session.execute(insert(Case).values(
            code=code, channel=intake.channel.value, status=status.value, received_at=intake.received_at,
            created_at=now, updated_at=now, closed_at=now if status is CaseStatus.CLOSED else None,
            subject=intake.subject, text=intake.text, rating=intake.rating.value if intake.rating else None,
            reasons=list(intake.reasons), hall_id=hall_id, window_id=window_id, service_item_id=item_id,
            real_name=contact.real_name, reply_channel=reply_channel.value if reply_channel else None,
            category=category.value, reason=triage.reason, confidence=triage.confidence,
            needs_review=triage.needs_review, triage_terms=triage_data.get("terms", []),
            first_response_due=due.first_response_due, result_due=due.result_due,
            deadline_uncertain=not due.certain,
        ).returning(Case.id))).scalar_one()
        message_id = await self._insert_message(session, case_id, intake, now)
        if not contact.is_empty:
            await session.execute(insert(Contact).values(
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
        if status is CaseStatus.CLOSED:
            events.append(EventSpec("close", "system:triage", CaseStatus.TRIAGED.value, CaseStatus.CLOSED.value,
                                    note="无需整改，自动办结"))
        await add_events(session, case_id, now, events)
        if reply_channel in (ReplyChannel.EMAIL, ReplyChannel.SMS):
            await enqueue(session, self.cipher, self._acknowledgement(
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
