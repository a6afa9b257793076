"""Data retention: after a configured time, closed cases lose their raw originals and their
evaluator's personal data; the case itself — track, rating, reasons, deadlines, timeline — stays,
so every figure and report computed from cases is unchanged.

``HCP_RETAIN_ORIGINALS_DAYS``: days after a case is closed that the raw originals of its messages
(the mail as received, a call recording, a form submission as posted: ``case_messages.raw_sha256``)
are kept; then the reference is cleared and the blob deleted unless something else still uses it.
``HCP_RETAIN_PERSONAL_DAYS``: days after closing that the contact (name, phone, e-mail and their
search hashes) and the recipients of finished outgoing messages are kept.  Each case so treated
gets a ``retention`` event saying what was removed and when, so the record shows why it is gone.
Unset (the default) keeps everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, or_, select, update

from gateway.core.db.models import Blob, Case, CaseEvent, Contact, Message, OutboxMessage
from gateway.core.db.schema import Base
from gateway.core.domain import CaseStatus
from gateway.core.jobs import Job
from gateway.core.services import Services

BATCH = 200
ACTOR = "system:retention"


def _blob_references() -> list[Any]:
    """Every column that points at a blob (found from the schema, so a new one is never missed)."""
    return [column for table in Base.metadata.tables.values() for column in table.columns
            if any(fk.target_fullname == "blobs.sha256" for fk in column.foreign_keys)]


async def apply_retention(services: Services, now: datetime | None = None) -> dict[str, int]:
    """One pass over at most ``BATCH`` cases per kind; returns what it removed."""
    settings = services.settings
    now = now or datetime.now(UTC)
    removed = {"raw_originals": 0, "blobs": 0, "contacts": 0}
    async with services.store.write() as session:
        events: dict[int, list[str]] = {}
        if settings.retain_originals_days is not None:
            cutoff = now - timedelta(days=settings.retain_originals_days)
            rows = (await session.execute(
                select(Message.id, Message.case_id, Message.raw_sha256).join(Case, Case.id == Message.case_id)
                .where(Case.status == CaseStatus.CLOSED, Case.closed_at < cutoff, Message.raw_sha256.is_not(None))
                .limit(BATCH))).all()
            if rows:
                await session.execute(update(Message).where(Message.id.in_([r.id for r in rows]))
                                      .values(raw_sha256=None))
                removed["raw_originals"] = len(rows)
                for row in rows:
                    events.setdefault(row.case_id, []).append("raw_original")
                for sha in {r.raw_sha256 for r in rows}:
                    used = [exists().where(column == sha) for column in _blob_references()]
                    if not (await session.execute(select(or_(*used)))).scalar():
                        removed["blobs"] += (await session.execute(delete(Blob).where(Blob.sha256 == sha))).rowcount
        if settings.retain_personal_days is not None:
            cutoff = now - timedelta(days=settings.retain_personal_days)
            case_ids = list((await session.execute(
                select(Contact.case_id).join(Case, Case.id == Contact.case_id)
                .where(Case.status == CaseStatus.CLOSED, Case.closed_at < cutoff,
                       or_(Contact.name_enc.is_not(None), Contact.phone_enc.is_not(None),
                           Contact.email_enc.is_not(None)))
                .limit(BATCH))).scalars())
            if case_ids:
                await session.execute(update(Contact).where(Contact.case_id.in_(case_ids)).values(
                    name_enc=None, phone_enc=None, email_enc=None, phone_hash=None, email_hash=None))
                await session.execute(update(OutboxMessage).where(
                    OutboxMessage.case_id.in_(case_ids), OutboxMessage.status != "pending").values(recipient_enc=None))
                removed["contacts"] = len(case_ids)
                for case_id in case_ids:
                    events.setdefault(case_id, []).append("personal_data")
        for case_id, kinds in events.items():
            session.add(CaseEvent(case_id=case_id, at=now, actor=ACTOR, kind="retention",
                                  data={"removed": sorted(set(kinds)), "raw_originals": kinds.count("raw_original")}))
    return removed


def jobs(services: Services) -> list[Job]:
    settings = services.settings
    if settings.retain_originals_days is None and settings.retain_personal_days is None:
        return []

    async def run() -> Mapping[str, Any]:
        return await apply_retention(services)

    return [Job("retention", run, interval=3600.0, singleton=True)]
