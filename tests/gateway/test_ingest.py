"""Exactly-once ingest on SQLite and PostgreSQL: sequential, concurrent, follow-ups, atomicity."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import func, select

from channels.intake import Attachment
from gateway.core.db.models import Attachment as AttachmentRow
from gateway.core.db.models import Blob, Case, CaseEvent, Contact, Message, OutboxMessage
from gateway.core.ingest import IngestError
from gateway.core.services import Services
from tests.helpers import enable_sms, local, make_intake


async def count(services: Services, model: type) -> int:
    async with services.store.read() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_an_intake_becomes_a_triaged_case_with_deadline_events_and_acknowledgement(services: Services) -> None:
    enable_sms(services.settings)
    result = await services.ingestor.ingest(make_intake())
    assert result.created and not result.duplicate
    assert re.fullmatch(r"JX20261127-0001", result.case_code)
    async with services.store.read() as session:
        case = (await session.execute(select(Case))).scalar_one()
        events = list((await session.execute(select(CaseEvent).order_by(CaseEvent.id))).scalars())
        outbox = (await session.execute(select(OutboxMessage))).scalar_one()
    assert (case.status, case.category, case.reason) == ("triaged", "immediate", "attitude")
    assert case.first_response_due == local(2026, 11, 27, 11, 0)
    assert case.received_at == local(2026, 11, 27, 10, 0)
    assert case.received_at.tzinfo is not None
    assert [(e.kind, e.from_status, e.to_status) for e in events] == [
        ("received", None, "received"), ("triage", "received", "triaged")]
    assert outbox.channel == "sms" and outbox.kind == "acknowledgement"
    assert result.case_code in outbox.body and "2026-11-27 11:00" in outbox.body
    assert services.cipher.open(outbox.recipient_enc) == "13812345678"


async def test_personal_data_is_encrypted_at_rest(services: Services) -> None:
    enable_sms(services.settings)
    await services.ingestor.ingest(make_intake())
    async with services.store.read() as session:
        contact = (await session.execute(select(Contact))).scalar_one()
        outbox = (await session.execute(select(OutboxMessage))).scalar_one()
    for sealed in (contact.name_enc, contact.phone_enc, outbox.recipient_enc):
        assert sealed is not None
        assert b"13812345678" not in sealed and "王小明".encode() not in sealed
    assert services.cipher.open(contact.name_enc) == "王小明"
    assert contact.phone_hash == services.cipher.search_hash("13812345678")


async def test_the_same_input_twice_yields_one_case(services: Services) -> None:
    enable_sms(services.settings)
    first = await services.ingestor.ingest(make_intake())
    second = await services.ingestor.ingest(make_intake(text="changed text of a retried post #immediate"))
    assert second.duplicate and not second.created
    assert (second.case_id, second.case_code, second.message_id) == (first.case_id, first.case_code, first.message_id)
    assert await count(services, Case) == 1
    assert await count(services, Message) == 1
    assert await count(services, OutboxMessage) == 1


async def test_concurrent_copies_yield_one_case(services: Services) -> None:
    results = await asyncio.gather(*(services.ingestor.ingest(make_intake()) for _ in range(12)))
    assert len({r.case_code for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert await count(services, Case) == 1
    assert await count(services, CaseEvent) == 2


async def test_concurrent_distinct_inputs_get_distinct_gap_free_codes(services: Services) -> None:
    intakes = [make_intake(source_ref=f"token-{i}") for i in range(15)]
    results = await asyncio.gather(*(services.ingestor.ingest(i) for i in intakes))
    codes = sorted(r.case_code for r in results)
    assert codes == [f"JX20261127-{n:04d}" for n in range(1, 16)]


async def test_racing_writers_on_separate_stores_yield_one_case(services: Services, settings) -> None:
    """Two gateway processes (two engines, two pools) ingesting the same input at once."""
    other = Services.create(settings, classifier=services.classifier)
    try:
        intakes = [make_intake(source_ref=f"race-{i}") for i in range(10)]
        results = await asyncio.gather(*(s.ingestor.ingest(i) for i in intakes for s in (services, other)))
        assert sum(r.created for r in results) == 10
        assert await count(services, Case) == 10
        assert await count(services, Message) == 10
    finally:
        await other.close()


async def test_a_failure_mid_ingest_leaves_nothing_and_a_retry_succeeds(services: Services, monkeypatch) -> None:
    enable_sms(services.settings)
    import gateway.core.ingest

    def broken_enqueue(*args, **kwargs):
        raise RuntimeError("process died while writing the acknowledgement")

    monkeypatch.setattr(gateway.core.ingest, "enqueue", broken_enqueue)
    with pytest.raises(RuntimeError):
        await services.ingestor.ingest(make_intake())
    for model in (Case, Message, Contact, CaseEvent, OutboxMessage):
        assert await count(services, model) == 0, model
    monkeypatch.undo()
    result = await services.ingestor.ingest(make_intake())
    assert result.created and result.case_code.endswith("-0001"), "the failed attempt did not use up a code"


async def test_a_follow_up_quoting_the_code_from_the_same_contact_joins_the_case(services: Services) -> None:
    first = await services.ingestor.ingest(make_intake())
    follow = await services.ingestor.ingest(make_intake(
        channel="phone", source_ref="call-77", tracking_code=first.case_code, text="还没人联系我",
        rating=None, reasons=[], contact={"phone": "+86 13812345678"}))
    assert follow.follow_up and follow.case_id == first.case_id
    assert await count(services, Case) == 1
    async with services.store.read() as session:
        kinds = [k for (k,) in (await session.execute(select(CaseEvent.kind).order_by(CaseEvent.id))).all()]
    assert kinds[-1] == "follow_up"


async def test_a_tracking_code_from_someone_else_does_not_write_into_the_case(services: Services) -> None:
    first = await services.ingestor.ingest(make_intake())
    other = await services.ingestor.ingest(make_intake(
        source_ref="token-x", tracking_code=first.case_code, contact={"phone": "13900000000"}))
    assert other.created and other.case_id != first.case_id


async def test_a_reply_referencing_our_message_joins_the_case(services: Services) -> None:
    first = await services.ingestor.ingest(make_intake(channel="email", source_ref="<a1@qq.com>",
                                                       contact={"email": "a@qq.com"}))
    reply = await services.ingestor.ingest(make_intake(channel="email", source_ref="<a2@qq.com>",
                                                       references=["<zz@x>", "<a1@qq.com>"],
                                                       contact={"email": "b@qq.com"}))
    assert reply.follow_up and reply.case_id == first.case_id


async def test_unknown_registry_codes_are_refused_and_nothing_is_written(services: Services) -> None:
    with pytest.raises(IngestError, match="hall: unknown hall code 'atlantis'"):
        await services.ingestor.ingest(make_intake(hall="atlantis", window=None))
    with pytest.raises(IngestError, match="window: hall jintun has no window 'w99'"):
        await services.ingestor.ingest(make_intake(window="w99"))
    with pytest.raises(IngestError, match="service_item: unknown service item code 'NOPE'"):
        await services.ingestor.ingest(make_intake(service_item="NOPE"))
    assert await count(services, Case) == 0


async def test_praise_closes_without_rectification_and_doubtful_items_wait_for_review(services: Services) -> None:
    praise = await services.ingestor.ingest(make_intake(source_ref="p", text="谢谢", rating="非常满意", reasons=[]))
    doubtful = await services.ingestor.ingest(make_intake(source_ref="d", text="不太清楚 #time_limited #review"))
    async with services.store.read() as session:
        by_code = {c.code: c for c in (await session.execute(select(Case))).scalars()}
    assert by_code[praise.case_code].status == "closed" and by_code[praise.case_code].closed_at is not None
    assert by_code[doubtful.case_code].status == "needs_review"
    assert by_code[doubtful.case_code].first_response_due == local(2026, 11, 30, 17, 0)
    assert by_code[doubtful.case_code].result_due == local(2026, 12, 2, 17, 0)


async def test_raw_originals_and_attachments_are_stored_once_by_content(services: Services) -> None:
    raw = {"media_type": "message/rfc822", "content": b"From: a@b\r\n\r\nbody"}
    photo = Attachment.from_bytes("现场.jpg", "image/jpeg", b"\xff\xd8" + b"x" * 100)
    await services.ingestor.ingest(make_intake(source_ref="m1", raw=raw, attachments=[photo]))
    await services.ingestor.ingest(make_intake(source_ref="m2", raw=raw, attachments=[photo]))
    assert await count(services, Blob) == 2
    assert await count(services, AttachmentRow) == 2


async def test_an_oversize_attachment_is_recorded_as_rejected(services: Services) -> None:
    services.settings.max_attachment_bytes = 10
    big = Attachment.from_bytes("big.pdf", "application/pdf", b"%PDF" + b"0" * 50)
    refused = Attachment(name="huge.mov", media_type="video/quicktime", size=10**9, rejected="over the limit")
    await services.ingestor.ingest(make_intake(attachments=[big, refused]))
    async with services.store.read() as session:
        rows = list((await session.execute(select(AttachmentRow).order_by(AttachmentRow.id))).scalars())
    assert [(r.name, r.sha256) for r in rows] == [("big.pdf", None), ("huge.mov", None)]
    assert rows[0].rejected.startswith("too large") and rows[1].rejected == "over the limit"
    assert await count(services, Blob) == 0
