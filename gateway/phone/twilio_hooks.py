"""What the Twilio webhooks do once their signature has been checked (``gateway.phone.routes``).

* a voice message (``<Record action>``, ``recordingStatusCallback``, ``transcribeCallback``) becomes
  one case keyed by ``CallSid``: whichever callback comes first creates it, the others find it.
  Without a transcript the case is flagged for review (someone must listen to the recording); a
  transcript that arrives later completes the message and the case text.
* the call status callback stores the call; a finished call that left no message becomes a
  call-back task (closed again if the recording turns up late).
* an inbound SMS becomes a case, or a follow-up when it quotes the case's tracking code (or
  answers an SMS we sent about an open case of the same number in the last few days).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from channels.intake import IntakeError
from channels.phone.cdr import parse_twilio_calls
from channels.phone.twilio import (
    TwilioPayloadError,
    call_sid,
    caller_of,
    recording_of,
    sms_intake,
    tracking_code_in,
    voice_intake,
)
from gateway.core.db.models import Case, Contact, Message
from gateway.core.db.models_phone import CallbackTask, PhoneCall
from gateway.core.ingest import Ingestor, IngestResult, classify
from gateway.core.workflow import EventSpec, add_events
from gateway.phone.calls import DONE, OPEN, CallStore, StoreCounts
from gateway.phone.common import OPEN_ELSEWHERE
from gateway.phone.options import PhoneOptions

if TYPE_CHECKING:
    from gateway.core.ingest import Classifier, TriageOutcome
    from gateway.core.services import Services

log = logging.getLogger(__name__)
FINAL_CALL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


@dataclass(frozen=True)
class _Reviewed:
    """A triage outcome marked for a person's review (the text is only a placeholder)."""

    label: str
    reason: str | None
    confidence: float
    needs_review: bool
    base: Any

    def to_dict(self) -> dict[str, Any]:
        return {**self.base.to_dict(), "needs_review": True}


class ReviewClassifier:
    """Triage as usual, but always ask a person: used for voice messages nobody has transcribed."""

    def __init__(self, inner: Classifier) -> None:
        self.inner = inner

    def classify(self, text: str, *, channel: str | None = None, rating: str | None = None,
                 reasons: Any = ()) -> TriageOutcome:
        return self._reviewed(self.inner.classify(text, channel=channel, rating=rating, reasons=reasons))

    async def classify_async(self, text: str, *, channel: str | None = None, rating: str | None = None,
                             reasons: Any = ()) -> TriageOutcome:
        return self._reviewed(await classify(self.inner, text, channel=channel, rating=rating, reasons=reasons))

    @staticmethod
    def _reviewed(outcome: TriageOutcome) -> TriageOutcome:
        return _Reviewed(outcome.label, outcome.reason, min(outcome.confidence, 0.1), True, outcome)


def _now() -> datetime:
    return datetime.now(UTC)


async def voicemail(services: Services, params: Mapping[str, Any], *, transcript: str | None = None,
                    options: PhoneOptions | None = None) -> IngestResult | None:
    """Create or complete the case of a voice message; ``None`` when nothing was recorded."""
    options = options or PhoneOptions()
    sid = call_sid(params)
    recording = recording_of(params)
    transcript = (transcript or "").strip() or None
    if transcript is None and (not recording["recording_url"] or recording["recording_seconds"] == 0):
        return None
    intake = voice_intake(params, received_at=_now(), transcript=transcript, area_code=options.area_code)
    if transcript:
        ingestor = services.ingestor
    else:
        ingestor = Ingestor(services.store, services.settings, ReviewClassifier(services.classifier),
                            services.cipher, services.calendar.get)
    result = await ingestor.ingest(intake)
    now = _now()
    async with services.store.write() as session:
        if result.duplicate:
            await _complete(session, result, transcript, recording, now)
        await session.execute(
            update(CallbackTask).where(CallbackTask.dedup_key == f"call:twilio:{sid}", CallbackTask.status == OPEN)
            .values(status=DONE, closed_at=now, closed_by="system:twilio", note=f"留言已到达 {result.case_code}"))
        await session.execute(
            update(PhoneCall).where(PhoneCall.source == "twilio", PhoneCall.call_id == sid,
                                    PhoneCall.message_id.is_(None))
            .values(case_id=result.case_id, message_id=result.message_id))
    return result


async def _complete(session: AsyncSession, result: IngestResult, transcript: str | None,
                    recording: dict[str, Any], now: datetime) -> None:
    """Add what a later callback knows (the transcript, the recording URL) to the stored message."""
    message = await session.get(Message, result.message_id, with_for_update=True)
    if message is None:  # pragma: no cover - the message was just found by the ingestor
        return
    extra = dict(message.extra or {})
    changed = False
    for key, value in recording.items():
        if value is not None and not extra.get(key):
            extra[key] = value
            changed = True
    if transcript and not extra.get("transcribed"):
        placeholder = message.text
        extra["transcribed"] = True
        message.text = transcript
        changed = True
        case = await session.get(Case, result.case_id, with_for_update=True)
        if case is not None and case.text == placeholder:
            case.text = transcript
            case.updated_at = now
        await session.run_sync(add_events, result.case_id, now, [EventSpec(
            kind="transcribed", actor="system:twilio", note="电话留言已转写",
            data={"message_id": message.id})])
    if changed:
        message.extra = extra


def _call_started(params: Mapping[str, Any], duration: int) -> datetime:
    stamp = params.get("Timestamp")
    moment = None
    if isinstance(stamp, str) and stamp:
        try:
            moment = parsedate_to_datetime(stamp)
        except (TypeError, ValueError, IndexError):
            moment = None
    end = moment if moment and moment.tzinfo else _now()
    return end - timedelta(seconds=duration)


async def call_status(services: Services, params: Mapping[str, Any],
                      options: PhoneOptions | None = None) -> StoreCounts | None:
    """Store a finished inbound call; a call that left no message raises a call-back task."""
    options = options or PhoneOptions()
    sid = call_sid(params)
    status = str(params.get("CallStatus") or "").lower()
    if status not in FINAL_CALL_STATUSES:
        return None
    raw_duration = str(params.get("CallDuration") or params.get("Duration") or "0")
    duration = int(raw_duration) if raw_duration.isdigit() else 0
    item = {"sid": sid, "direction": str(params.get("Direction") or "inbound"), "status": status,
            "start_time": _call_started(params, duration), "duration": str(duration), "from": params.get("From")}
    parsed = parse_twilio_calls([item], area_code=options.area_code)
    if parsed.errors:
        raise TwilioPayloadError(parsed.errors[0].message)
    if not parsed.records:
        return StoreCounts()
    store = CallStore(services.cipher, await services.calendar.get(), options)
    records = [record for _, record in parsed.records]
    return await services.store.run_write(lambda session: store.store(session, records))


async def _thread_case(services: Services, phone: str, days: int) -> str | None:
    """The open case of this number that we sent an SMS about within ``days`` (an SMS thread)."""
    if days <= 0:
        return None
    since = _now() - timedelta(days=days)
    async with services.store.read() as session:
        return (await session.execute(
            select(Case.code).join(Contact, Contact.case_id == Case.id).join(Message, Message.case_id == Case.id)
            .where(Contact.phone_hash == services.cipher.search_hash(phone), Message.channel == "sms",
                   Message.direction == "out", Message.at >= since, Case.status.not_in(OPEN_ELSEWHERE))
            .order_by(Message.at.desc()).limit(1))).scalar_one_or_none()


async def inbound_sms(services: Services, params: Mapping[str, Any],
                      options: PhoneOptions | None = None) -> IngestResult | None:
    """An SMS from a citizen; ``None`` when it carries nothing (no text, no picture)."""
    options = options or PhoneOptions()
    body = str(params.get("Body") or "").strip()
    media = str(params.get("NumMedia") or "0")
    if not body and media.isdigit() and int(media) > 0:
        params = {**params, "Body": f"（彩信，无文字，{media} 个附件，请在 Twilio 控制台查看）"}
    elif not body:
        return None
    phone = caller_of(params, area_code=options.area_code)
    thread = None
    if phone and not tracking_code_in(body, services.settings.tracking_prefix):
        thread = await _thread_case(services, phone, options.sms_thread_days)
    try:
        intake = sms_intake(params, received_at=_now(), tracking_prefix=services.settings.tracking_prefix,
                            open_case_code=thread, area_code=options.area_code)
    except IntakeError as exc:
        log.warning("twilio: inbound SMS refused: %s", exc)
        return None
    return await services.ingestor.ingest(intake)
