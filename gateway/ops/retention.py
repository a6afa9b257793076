"""Data retention: after a configured time, closed cases lose their raw originals, their stored
files and their evaluator's personal data; the case itself — track, rating, reasons, deadlines,
timeline — stays, so every figure and report computed from cases is unchanged.

``HCP_RETAIN_ORIGINALS_DAYS``: days after a case is closed that its stored files are kept: the raw
originals of its messages (the mail as received, a call recording, a form submission as posted:
``case_messages.raw_sha256``), its attachments (mail attachments, MMS and WeChat pictures, recordings
kept as attachments) and the images of its paper slip (the slip's crop, the scanned page once every
slip on it is expired or void, the uploaded file once every page is).  The reference is cleared, the
row of an attachment or page keeps its name, size and type with ``removed_at`` set, and the blob is
deleted unless something else still uses it (every column referring to ``blobs``, from the schema).

``HCP_RETAIN_PERSONAL_DAYS``: days after closing that the contact (name, phone, e-mail, WeChat
OpenID and their search hashes), the recipients of finished outgoing messages, the contact typed on
the paper slip, the caller's number of its calls and finished call-back tasks, and personal numbers
typed into texts (phone, ID card, e-mail, bank card in the case's text and subject, its messages,
its finished outgoing messages, its slip's transcription and OCR, the copy kept with a triage
correction, timeline, return-visit and call-back notes; see ``gateway.core.redaction``) are kept;
``cases.personal_removed_at`` marks a case done, so its texts are read once.

Each case so treated gets a ``retention`` event saying what was removed and when, so the record
shows why it is gone.  Unset (the default) keeps everything.  At most ``BATCH`` rows of each kind a run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.db.models import (
    Attachment,
    Blob,
    Case,
    CaseEvent,
    Contact,
    Message,
    OutboxMessage,
    TriageCorrection,
)
from gateway.core.db.models_paper import PaperDraft, PaperPage, PaperScan
from gateway.core.db.models_phone import CallbackTask, PhoneCall, ReturnVisit
from gateway.core.db.schema import Base
from gateway.core.domain import CaseStatus
from gateway.core.jobs import Job
from gateway.core.labels import retention_note
from gateway.core.redaction import redact_personal
from gateway.core.services import Services

BATCH = 200
ACTOR = "system:retention"
KINDS = ("raw_original", "attachment", "paper_image", "personal_data", "text")


def _blob_references() -> list[Any]:
    """Every column that points at a blob (found from the schema, so a new one is never missed)."""
    return [column for table in Base.metadata.tables.values() for column in table.columns
            if any(fk.target_fullname == "blobs.sha256" for fk in column.foreign_keys)]


@dataclass
class _Removed:
    """What one run removed, per case (for the timeline) and in total (for the job's report)."""

    counts: dict[int, Counter[str]] = field(default_factory=dict)
    files: dict[int, set[str]] = field(default_factory=dict)
    freed: set[str] = field(default_factory=set)  # blobs no longer referenced by the rows we cleared
    raw_messages: dict[int, list[int]] = field(default_factory=dict)  # messages whose original went

    def add(self, case_id: int, kind: str, n: int = 1, sha: str | None = None) -> None:
        self.counts.setdefault(case_id, Counter())[kind] += n
        if sha:
            self.files.setdefault(case_id, set()).add(sha)
            self.freed.add(sha)

    def total(self, kind: str) -> int:
        return sum(c[kind] for c in self.counts.values())


def _expired(cutoff: datetime) -> Select[tuple[int]]:
    return select(Case.id).where(Case.status == CaseStatus.CLOSED, Case.closed_at < cutoff)


async def _raw_originals(session: AsyncSession, expired: Select[tuple[int]], removed: _Removed) -> None:
    rows = (await session.execute(
        select(Message.id, Message.case_id, Message.raw_sha256)
        .where(Message.case_id.in_(expired), Message.raw_sha256.is_not(None)).limit(BATCH))).all()
    if rows:
        await session.execute(update(Message).where(Message.id.in_([r.id for r in rows])).values(raw_sha256=None))
    for row in rows:
        removed.add(row.case_id, "raw_original", sha=row.raw_sha256)
        removed.raw_messages.setdefault(row.case_id, []).append(row.id)


async def _attachments(session: AsyncSession, expired: Select[tuple[int]], removed: _Removed, now: datetime) -> None:
    rows = (await session.execute(
        select(Attachment.id, Attachment.sha256, Message.case_id).join(Message, Message.id == Attachment.message_id)
        .where(Message.case_id.in_(expired), Attachment.sha256.is_not(None)).limit(BATCH))).all()
    if rows:
        await session.execute(update(Attachment).where(Attachment.id.in_([r.id for r in rows]))
                              .values(sha256=None, removed_at=now))
    for row in rows:
        removed.add(row.case_id, "attachment", sha=row.sha256)


async def _paper_images(session: AsyncSession, expired: Select[tuple[int]], removed: _Removed, now: datetime) -> None:
    """The slip crops of expired cases; a page once none of its slips is open or of a live case; the
    uploaded file once none of its pages still shows work to do."""
    drafts = (await session.execute(
        select(PaperDraft.id, PaperDraft.case_id, PaperDraft.image_sha256)
        .where(PaperDraft.case_id.in_(expired), PaperDraft.image_sha256.is_not(None)).limit(BATCH))).all()
    if drafts:
        await session.execute(update(PaperDraft).where(PaperDraft.id.in_([d.id for d in drafts]))
                              .values(image_sha256=None, removed_at=now))
    for draft in drafts:
        removed.add(draft.case_id, "paper_image", sha=draft.image_sha256)

    on_page = PaperDraft.page_id == PaperPage.id
    blocking = exists().where(on_page, or_(PaperDraft.status == "open",
                                           PaperDraft.case_id.is_not(None) & PaperDraft.case_id.not_in(expired)))
    pages = (await session.execute(
        select(PaperPage.id, PaperPage.scan_id, PaperPage.image_sha256)
        .where(PaperPage.image_sha256.is_not(None), exists().where(on_page, PaperDraft.case_id.in_(expired)),
               ~blocking).limit(BATCH))).all()
    if not pages:
        return
    await session.execute(update(PaperPage).where(PaperPage.id.in_([p.id for p in pages]))
                          .values(image_sha256=None, removed_at=now))
    cases_of = await _cases_of_pages(session, [p.id for p in pages])
    for page in pages:
        for case_id in cases_of.get(page.id, ()):
            removed.add(case_id, "paper_image", sha=page.image_sha256)
        removed.freed.add(page.image_sha256)

    # An uploaded file goes when each of its pages is removed, or holds neither a slip nor work to do
    # (a blank back side); those pages' images go with it.
    still_needed = exists().where(
        PaperPage.scan_id == PaperScan.id, PaperPage.removed_at.is_(None), PaperPage.image_sha256.is_not(None),
        or_(exists().where(on_page), PaperPage.status.in_(("needs_id", "unreadable"))))
    scans = (await session.execute(
        select(PaperScan.id, PaperScan.blob_sha256)
        .where(PaperScan.id.in_({p.scan_id for p in pages}), PaperScan.blob_sha256.is_not(None),
               PaperScan.status.in_(("done", "rejected")), ~still_needed))).all()
    if not scans:
        return
    scan_ids = [s.id for s in scans]
    leftover = (await session.execute(select(PaperPage.id, PaperPage.image_sha256).where(
        PaperPage.scan_id.in_(scan_ids), PaperPage.image_sha256.is_not(None)))).all()
    if leftover:
        await session.execute(update(PaperPage).where(PaperPage.id.in_([p.id for p in leftover]))
                              .values(image_sha256=None, removed_at=now))
    await session.execute(update(PaperScan).where(PaperScan.id.in_(scan_ids)).values(blob_sha256=None, removed_at=now))
    removed.freed.update(s.blob_sha256 for s in scans)
    removed.freed.update(p.image_sha256 for p in leftover)


async def _cases_of_pages(session: AsyncSession, page_ids: list[int]) -> dict[int, set[int]]:
    rows = (await session.execute(select(PaperDraft.page_id, PaperDraft.case_id).where(
        PaperDraft.page_id.in_(page_ids), PaperDraft.case_id.is_not(None)))).all()
    result: dict[int, set[int]] = {}
    for row in rows:
        result.setdefault(row.page_id, set()).add(row.case_id)
    return result


async def _drop_unused(session: AsyncSession, shas: Iterable[str]) -> int:
    """Delete each blob no row refers to any more; the number deleted."""
    deleted = 0
    for sha in sorted(shas):
        used = [exists().where(column == sha) for column in _blob_references()]
        if not (await session.execute(select(or_(*used)))).scalar():
            deleted += (await session.execute(delete(Blob).where(Blob.sha256 == sha))).rowcount
    return deleted


def _redact(value: str | None) -> tuple[str | None, int]:
    if not value:
        return value, 0
    text, kinds = redact_personal(value)
    return text, len(kinds)


async def _redact_rows(session: AsyncSession, model: Any, columns: tuple[str, ...], where: ColumnElement[bool],
                       case_of: Any, removed: _Removed) -> None:
    """Redact ``columns`` of every row of ``model`` matching ``where``; count the finds per case."""
    rows = (await session.execute(select(model.id, case_of, *(getattr(model, c) for c in columns)).where(where))).all()
    for row in rows:
        values: dict[str, Any] = {}
        found = 0
        for column, value in zip(columns, row[2:], strict=True):
            if column == "ocr_lines":
                lines, n = _redact_lines(value)
                if n:
                    values[column] = lines
            else:
                value, n = _redact(value)
                if n:
                    values[column] = value
            found += n
        if values:
            await session.execute(update(model).where(model.id == row[0]).values(**values))
            removed.add(row[1], "text", found)


def _redact_lines(lines: list[Any] | None) -> tuple[list[Any], int]:
    """OCR lines of a slip (``{"text": …, …}``) with the personal numbers of each text redacted."""
    result, found = [], 0
    for line in lines or []:
        if isinstance(line, dict) and isinstance(line.get("text"), str):
            text, n = _redact(line["text"])
            found += n
            line = {**line, "text": text}
        result.append(line)
    return result, found


async def _personal(session: AsyncSession, cutoff: datetime, removed: _Removed, now: datetime) -> int:
    """Contacts, recipients, slip contacts and typed personal numbers of expired cases; cases treated."""
    case_ids = list((await session.execute(
        select(Case.id).where(Case.status == CaseStatus.CLOSED, Case.closed_at < cutoff,
                              Case.personal_removed_at.is_(None)).order_by(Case.id).limit(BATCH))).scalars())
    if not case_ids:
        return 0
    with_contact = list((await session.execute(select(Contact.case_id).where(
        Contact.case_id.in_(case_ids), or_(Contact.name_enc.is_not(None), Contact.phone_enc.is_not(None),
                                           Contact.email_enc.is_not(None), Contact.wechat_enc.is_not(None)))
    )).scalars())
    slip_contacts = list((await session.execute(select(PaperDraft.case_id).where(
        PaperDraft.case_id.in_(case_ids), PaperDraft.contact_enc.is_not(None)))).scalars())
    callers = list((await session.execute(select(PhoneCall.case_id).where(
        PhoneCall.case_id.in_(case_ids), PhoneCall.caller_enc.is_not(None)))).scalars())
    finished_callbacks = CallbackTask.case_id.in_(case_ids) & (CallbackTask.status != "open")
    await session.execute(update(Contact).where(Contact.case_id.in_(case_ids)).values(
        name_enc=None, phone_enc=None, email_enc=None, phone_hash=None, email_hash=None,
        wechat_enc=None, wechat_hash=None))
    await session.execute(update(OutboxMessage).where(
        OutboxMessage.case_id.in_(case_ids), OutboxMessage.status != "pending").values(recipient_enc=None))
    await session.execute(update(PaperDraft).where(PaperDraft.case_id.in_(case_ids)).values(contact_enc=None))
    await session.execute(update(PhoneCall).where(PhoneCall.case_id.in_(case_ids)).values(
        caller_enc=None, caller_hash=None))
    await session.execute(update(CallbackTask).where(finished_callbacks).values(phone_enc=None, phone_hash=None))
    treated = {*with_contact, *slip_contacts, *callers}
    for case_id in treated:
        removed.add(case_id, "personal_data")

    await _redact_rows(session, Case, ("text", "subject"), Case.id.in_(case_ids), Case.id, removed)
    await _redact_rows(session, Message, ("text", "subject"), Message.case_id.in_(case_ids), Message.case_id, removed)
    await _redact_rows(session, OutboxMessage, ("subject", "body"), OutboxMessage.case_id.in_(case_ids)
                       & (OutboxMessage.status != "pending"), OutboxMessage.case_id, removed)
    await _redact_rows(session, PaperDraft, ("text", "text_read", "ocr_lines"), PaperDraft.case_id.in_(case_ids),
                       PaperDraft.case_id, removed)
    # The copy of the text kept with a triage correction (for ``hcp triage suggest``).
    await _redact_rows(session, TriageCorrection, ("text",), TriageCorrection.case_id.in_(case_ids),
                       TriageCorrection.case_id, removed)
    # What staff typed about the citizen: timeline notes, return-visit and call-back notes.
    await _redact_rows(session, CaseEvent, ("note",), CaseEvent.case_id.in_(case_ids), CaseEvent.case_id, removed)
    await _redact_rows(session, ReturnVisit, ("note",), ReturnVisit.case_id.in_(case_ids), ReturnVisit.case_id,
                       removed)
    await _redact_rows(session, CallbackTask, ("note",), finished_callbacks, CallbackTask.case_id, removed)
    await session.execute(update(Case).where(Case.id.in_(case_ids)).values(personal_removed_at=now))
    return len(treated)


async def apply_retention(services: Services, now: datetime | None = None) -> dict[str, int]:
    """One pass over at most ``BATCH`` rows of each kind; returns what it removed."""
    settings = services.settings
    now = now or datetime.now(UTC)
    removed = _Removed()
    blobs = contacts = 0
    async with services.store.write() as session:
        if settings.retain_originals_days is not None:
            expired = _expired(now - timedelta(days=settings.retain_originals_days))
            await _raw_originals(session, expired, removed)
            await _attachments(session, expired, removed, now)
            await _paper_images(session, expired, removed, now)
            blobs = await _drop_unused(session, removed.freed)
        if settings.retain_personal_days is not None:
            contacts = await _personal(session, now - timedelta(days=settings.retain_personal_days), removed, now)
        for case_id, counts in sorted(removed.counts.items()):
            session.add(CaseEvent(case_id=case_id, at=now, actor=ACTOR, kind="retention",
                                  note=retention_note({kind: counts[kind] for kind in KINDS}),
                                  data={"removed": sorted(counts), "raw_originals": counts["raw_original"],
                                        "counts": {kind: counts[kind] for kind in KINDS if counts[kind]},
                                        "files": sorted(removed.files.get(case_id, ())),
                                        "raw_messages": sorted(removed.raw_messages.get(case_id, ()))}))
    return {"raw_originals": removed.total("raw_original"), "attachments": removed.total("attachment"),
            "paper_images": removed.total("paper_image"), "blobs": blobs, "contacts": contacts,
            "redactions": removed.total("text")}


def jobs(services: Services) -> list[Job]:
    settings = services.settings
    if settings.retain_originals_days is None and settings.retain_personal_days is None:
        return []

    async def run() -> Mapping[str, Any]:
        return await apply_retention(services)

    return [Job("retention", run, interval=3600.0, singleton=True)]
