"""Retention: closed cases past the configured time lose their raw originals and personal data,
say so in their timeline, and every figure computed from cases stays the same."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from channels.intake import RawOriginal
from gateway.core.db.models import Blob, Case, CaseEvent, Contact, Message
from gateway.core.services import Services
from gateway.ops.retention import apply_retention
from tests.helpers import make_intake

NOW = datetime(2027, 6, 30, 16, 0, tzinfo=UTC)  # the end of a half year, Shanghai midnight


async def _case(services: Services, ref: str, raw: bytes, closed_at: datetime | None) -> int:
    result = await services.ingestor.ingest(make_intake(source_ref=ref, raw=RawOriginal(
        media_type="message/rfc822", content=raw)))
    if closed_at is not None:
        async with services.store.write() as session:
            await session.execute(update(Case).where(Case.id == result.case_id).values(
                status="closed", closed_at=closed_at))
    return result.case_id


async def _figures(services: Services) -> list[tuple]:
    async with services.store.read() as session:
        return [tuple(row) for row in (await session.execute(select(
            Case.code, Case.channel, Case.status, Case.category, Case.reason, Case.rating, Case.reasons,
            Case.first_response_due, Case.result_due, Case.closed_at, Case.hall_id).order_by(Case.id))).all()]


async def test_expired_originals_and_contacts_go_the_case_and_its_figures_stay(services: Services) -> None:
    services.settings.retain_originals_days = 180
    services.settings.retain_personal_days = 365
    old = await _case(services, "old", b"From: a\r\n\r\nold mail", datetime(2026, 6, 1, tzinfo=UTC))  # > 365 days
    middle = await _case(services, "mid", b"From: b\r\n\r\nmiddle mail", datetime(2026, 12, 1, tzinfo=UTC))
    recent = await _case(services, "new", b"From: c\r\n\r\nrecent mail", datetime(2027, 6, 1, tzinfo=UTC))
    still_open = await _case(services, "open", b"From: d\r\n\r\nopen mail", None)
    shared = await _case(services, "shared", b"From: b\r\n\r\nmiddle mail", None)  # the same bytes, open case
    before = await _figures(services)

    removed = await apply_retention(services, NOW)

    assert removed == {"raw_originals": 2, "blobs": 1, "contacts": 1}
    assert await _figures(services) == before
    async with services.store.read() as session:
        raw = dict((await session.execute(select(Message.case_id, Message.raw_sha256))).all())
        assert raw[old] is None and raw[middle] is None
        assert raw[recent] and raw[still_open] and raw[shared]
        blobs = set((await session.execute(select(Blob.sha256))).scalars())
        assert raw[shared] in blobs  # the middle case's bytes, still used by an open case: kept
        assert raw[recent] in blobs and raw[still_open] in blobs
        contacts = {c.case_id: c for c in (await session.execute(select(Contact))).scalars()}
        assert contacts[old].phone_enc is None and contacts[old].name_enc is None and contacts[old].phone_hash is None
        assert services.cipher.open(contacts[middle].phone_enc) == "13812345678"
        events = {(e.case_id, tuple(e.data["removed"])) for e in (await session.execute(
            select(CaseEvent).where(CaseEvent.kind == "retention"))).scalars()}
    assert events == {(old, ("personal_data", "raw_original")), (middle, ("raw_original",))}

    assert await apply_retention(services, NOW) == {"raw_originals": 0, "blobs": 0, "contacts": 0}
    async with services.store.read() as session:
        assert len((await session.execute(select(CaseEvent).where(CaseEvent.kind == "retention"))).all()) == 2


async def test_without_settings_nothing_is_removed(services: Services) -> None:
    await _case(services, "old", b"From: a\r\n\r\nold mail", datetime(2020, 1, 1, tzinfo=UTC))
    assert await apply_retention(services, NOW) == {"raw_originals": 0, "blobs": 0, "contacts": 0}
    from gateway.ops.retention import jobs

    assert jobs(services) == []
