"""Scanned batches into the mailroom: every file, page and slip stored exactly once.

For each uploaded file: its SHA-256 finds an earlier upload (a repeat shows what the first one
made; an interrupted one resumes where it stopped), the original bytes go into ``blobs`` before
any decoding, each page is decoded in a worker thread (zbar and numpy release nothing to the event
loop otherwise) and stored with its image and its drafts in one transaction.  A page without a
readable slip code is stored as ``needs_id``; a file that cannot be read is stored as ``rejected``
with the reason — the other files of the batch are unaffected.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from PIL import Image
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from channels.paper.codes import format_serial
from channels.paper.documents import DocumentError, Limits, LoadedPage, load_pages
from channels.paper.reader import PageReading, SlipReading, read_page, slip_image
from gateway.auth.audit import add_audit
from gateway.auth.roles import Principal
from gateway.core.blobs import put_blob
from gateway.core.db.dialect import dialect_of, insert_ignoring
from gateway.core.db.models import Case, Message
from gateway.core.db.models_paper import PaperDraft, PaperPage, PaperScan
from gateway.core.services import Services
from gateway.paper.slips import issued_run, window_exists

log = logging.getLogger(__name__)
PAGE_JPEG_QUALITY = 80
SLIP_DPI = 150


@dataclass
class SlipOutcome:
    draft_id: int
    slot: int
    serial: str | None
    hall: str | None
    window: str | None
    signature_ok: bool | None
    issued: bool
    rating: str | None
    rating_confidence: float | None
    reasons: list[str]
    status: str
    duplicate: bool
    duplicate_of: str | None


@dataclass
class PageOutcome:
    page_no: int
    page_id: int | None
    status: str
    slips: list[SlipOutcome] = field(default_factory=list)
    foreign_codes: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class FileOutcome:
    """What happened to one file: ``accepted`` (new), ``repeat`` (seen before) or ``rejected``."""

    name: str
    sha256: str
    status: str
    scan_id: int | None = None
    media_type: str | None = None
    error: str | None = None
    error_kind: str | None = None
    http_status: int = 200
    pages: list[PageOutcome] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Prepared:
    """A decoded page, ready to store (everything CPU-heavy already done in a worker thread)."""

    page: LoadedPage
    reading: PageReading | None
    image_bytes: bytes | None
    image_type: str
    slip_images: list[bytes | None]


def _encode(image: Image.Image, bilevel: bool) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    if bilevel:
        image.convert("1").save(buffer, "PNG", optimize=True)
        return buffer.getvalue(), "image/png"
    image.save(buffer, "JPEG", quality=PAGE_JPEG_QUALITY, optimize=True)
    return buffer.getvalue(), "image/jpeg"


def _prepare(page: LoadedPage, key: bytes) -> _Prepared:
    if page.image is None:
        return _Prepared(page, None, None, "", [])
    try:
        reading = read_page(page.image, key, dpi=page.dpi)
    except Exception:  # a decoder bug must not lose the page: it goes to the manual-id list
        log.exception("decoding page %d failed; the page goes to the manual-id list", page.index + 1)
        reading = PageReading(width=page.image.width, height=page.image.height)
    data, media_type = _encode(page.image, page.bilevel)
    crops: list[bytes | None] = []
    for slip in reading.slips:
        crop = slip_image(page.image, slip, dpi=SLIP_DPI)
        if crop is None:
            crops.append(None)
            continue
        buffer = io.BytesIO()
        crop.save(buffer, "JPEG", quality=85)
        crops.append(buffer.getvalue())
    return _Prepared(page, reading, data, media_type, crops)


def _bad(slip: SlipReading) -> bool:
    """Reasons only go with 不满意 / 非常不满意; ticks read beside a good rating are left for staff."""
    return slip.rating is not None and slip.rating.choice in ("dissatisfied", "very_dissatisfied")


def duplicate_of(session: Session, serial: int, *, exclude: int | None = None) -> str | None:
    """``case:CODE`` when a case already holds this serial, ``draft:ID`` for an earlier live draft."""
    code = session.execute(
        select(Case.code).join(Message, Message.case_id == Case.id)
        .where(Message.channel == "paper", Message.source_ref == format_serial(serial))).scalar_one_or_none()
    if code is not None:
        return f"case:{code}"
    query = select(PaperDraft.id).where(PaperDraft.serial == serial, PaperDraft.status != "discarded",
                                        PaperDraft.signature_ok.is_not(False))
    if exclude is not None:
        query = query.where(PaperDraft.id != exclude)
    earlier = session.execute(query.order_by(PaperDraft.id).limit(1)).scalar_one_or_none()
    return f"draft:{earlier}" if earlier is not None else None


def _store_page(session: Session, services: Services, scan_id: int, prepared: _Prepared) -> PageOutcome:
    settings = services.settings
    now = datetime.now(UTC)
    page_no = prepared.page.index + 1
    reading = prepared.reading
    image_sha = None
    if prepared.image_bytes is not None:
        image_sha = put_blob(session, prepared.image_bytes, prepared.image_type, max_bytes=settings.max_blob_bytes)
    status = "unreadable" if reading is None else "decoded" if reading.slips else "needs_id"
    error = prepared.page.error.user_message if prepared.page.error else None
    statement = insert_ignoring(dialect_of(session), PaperPage, ("scan_id", "page_no"), "id")
    page_id = session.execute(statement, {
        "scan_id": scan_id, "page_no": page_no, "image_sha256": image_sha,
        "width": reading.width if reading else 0, "height": reading.height if reading else 0,
        "status": status, "slips": len(reading.slips) if reading else 0,
        "foreign_codes": list(reading.foreign) if reading else [], "error": error,
        "seconds": round(reading.seconds, 4) if reading else 0.0, "created_at": now,
    }).scalar_one_or_none()
    outcome = PageOutcome(page_no, page_id, status, foreign_codes=list(reading.foreign) if reading else [],
                          error=error)
    if page_id is None or reading is None:  # another upload of the same file stored this page first
        return outcome
    for slot, (slip, crop) in enumerate(zip(reading.slips, prepared.slip_images, strict=True)):
        crop_sha = put_blob(session, crop, "image/jpeg", max_bytes=settings.max_blob_bytes) if crop else None
        code = slip.code
        run = issued_run(session, code.serial)
        issued = run is not None and run.hall_code == code.hall and run.window_code == code.window
        known_place = window_exists(session, code.hall, code.window)
        duplicate = duplicate_of(session, code.serial) if slip.signature_ok else None
        draft_status = "duplicate" if duplicate else "open"
        draft = PaperDraft(
            page_id=page_id, slot=slot, origin="qr", serial=code.serial, size=code.size,
            hall_code=code.hall if known_place else None, window_code=code.window if known_place else None,
            signature_ok=slip.signature_ok, issued=issued, image_sha256=crop_sha,
            rating_read=slip.rating.choice if slip.rating else None,
            rating_confidence=slip.rating.confidence if slip.rating else None,
            reasons_read=list(slip.reasons), reasons_confidence=slip.reasons_confidence,
            reply_read=slip.reply.choice if slip.reply and slip.reply.confidence >= 0.5 else None,
            status=draft_status, duplicate_of=duplicate, text="",
            rating=slip.rating.choice if slip.rating and slip.rating.confidence >= 0.5 else None,
            reasons=list(slip.reasons) if slip.reasons_confidence >= 0.5 and _bad(slip) else [],
            note=None if known_place else f"二维码中的大厅/窗口（{code.hall}/{code.window or '-'}）不在登记表中",
            created_at=now, updated_at=now)
        session.add(draft)
        session.flush()
        outcome.slips.append(SlipOutcome(
            draft.id, slot, format_serial(code.serial), draft.hall_code, draft.window_code, slip.signature_ok, issued,
            slip.rating.choice if slip.rating else None, slip.rating.confidence if slip.rating else None,
            list(slip.reasons), draft_status, duplicate is not None, duplicate))
    return outcome


async def _repeat(services: Services, scan: PaperScan) -> FileOutcome:
    outcome = FileOutcome(scan.file_name, scan.sha256, "repeat", scan.id, scan.media_type, scan.error,
                          scan.error_kind, 200)
    async with services.store.read() as session:
        pages = (await session.execute(select(PaperPage).where(PaperPage.scan_id == scan.id)
                                       .order_by(PaperPage.page_no))).scalars().all()
        drafts = (await session.execute(select(PaperDraft).where(PaperDraft.page_id.in_([p.id for p in pages]))
                                        .order_by(PaperDraft.page_id, PaperDraft.slot))).scalars().all()
    by_page: dict[int, list[PaperDraft]] = {}
    for draft in drafts:
        by_page.setdefault(draft.page_id, []).append(draft)
    for page in pages:
        page_outcome = PageOutcome(page.page_no, page.id, page.status, foreign_codes=list(page.foreign_codes),
                                   error=page.error)
        for draft in by_page.get(page.id, []):
            page_outcome.slips.append(SlipOutcome(
                draft.id, draft.slot, format_serial(draft.serial) if draft.serial else None, draft.hall_code,
                draft.window_code, draft.signature_ok, draft.issued, draft.rating_read, draft.rating_confidence,
                list(draft.reasons_read), draft.status, draft.duplicate_of is not None, draft.duplicate_of))
        outcome.pages.append(page_outcome)
    return outcome


def _next_page(pages: Iterator[LoadedPage]) -> LoadedPage | None:
    return next(pages, None)


async def ingest_file(services: Services, data: bytes, name: str, *, by: str, who: Principal | None = None,
                      ip: str | None = None, hall_hint: str | None = None, limits: Limits | None = None) -> FileOutcome:
    """Store one uploaded file and everything found in it; never raises for bad input."""
    store, settings = services.store, services.settings
    name = (name or "upload").replace("\\", "/").rsplit("/", 1)[-1][:200] or "upload"
    limits = limits or Limits(max_bytes=settings.max_blob_bytes)
    sha = hashlib.sha256(data).hexdigest()
    async with store.read() as session:
        existing = (await session.execute(select(PaperScan).where(PaperScan.sha256 == sha))).scalar_one_or_none()
    if existing is not None and existing.status != "processing":
        return await _repeat(services, existing)

    try:
        media_type, pages_iter = load_pages(data, name, limits)
    except DocumentError as error:
        return await _reject(services, data, name, sha, error, by=by, who=who, ip=ip, hall_hint=hall_hint)

    if existing is None:
        def insert_scan(session: Session) -> int:
            blob = put_blob(session, data, media_type, max_bytes=settings.max_blob_bytes)
            statement = insert_ignoring(dialect_of(session), PaperScan, ("sha256",), "id")
            scan_id = session.execute(statement, {
                "sha256": sha, "blob_sha256": blob, "file_name": name, "media_type": media_type, "size": len(data),
                "status": "processing", "error_kind": None, "error": None, "page_count": 0, "hall_hint": hall_hint,
                "uploaded_by": by, "uploaded_at": datetime.now(UTC), "finished_at": None}).scalar_one_or_none()
            if scan_id is None:
                scan_id = session.execute(select(PaperScan.id).where(PaperScan.sha256 == sha)).scalar_one()
            else:
                add_audit(session, who, "paper.upload", ip=ip, target_type="paper_scan", target_id=scan_id,
                          detail={"file": name, "bytes": len(data), "sha256": sha})
            return scan_id

        scan_id = await store.run_write(insert_scan)
    else:
        scan_id = existing.id
    async with store.read() as session:
        done = set((await session.execute(select(PaperPage.page_no).where(PaperPage.scan_id == scan_id))).scalars())

    outcome = FileOutcome(name, sha, "accepted", scan_id, media_type)
    key = settings.signing_key()
    count = 0
    file_error: DocumentError | None = None
    while True:
        try:
            page = await asyncio.to_thread(_next_page, pages_iter)
        except DocumentError as error:
            file_error = error
            break
        if page is None:
            break
        count += 1
        if page.index + 1 in done:
            continue
        prepared = await asyncio.to_thread(_prepare, page, key)
        outcome.pages.append(await store.run_write(
            lambda session, prepared=prepared: _store_page(session, services, scan_id, prepared)))

    if file_error is not None and count == 0:
        async with store.write() as session:
            await session.execute(update(PaperScan).where(PaperScan.id == scan_id).values(
                status="rejected", error_kind=file_error.kind, error=file_error.user_message,
                finished_at=datetime.now(UTC)))
        return FileOutcome(name, sha, "rejected", scan_id, media_type, file_error.user_message, file_error.kind,
                           file_error.http_status)

    async with store.write() as session:
        await session.execute(update(PaperScan).where(PaperScan.id == scan_id).values(
            status="done", page_count=count, finished_at=datetime.now(UTC),
            error=file_error.user_message if file_error else None,
            error_kind=file_error.kind if file_error else None))
    if file_error is not None:
        outcome.error, outcome.error_kind = file_error.user_message, file_error.kind
    if existing is not None:
        return await _repeat(services, (await _scan(services, scan_id)))
    return outcome


async def _scan(services: Services, scan_id: int) -> PaperScan:
    async with services.store.read() as session:
        return (await session.execute(select(PaperScan).where(PaperScan.id == scan_id))).scalar_one()


async def _reject(services: Services, data: bytes, name: str, sha: str, error: DocumentError, *, by: str,
                  who: Principal | None, ip: str | None, hall_hint: str | None) -> FileOutcome:
    """Keep a refused file's row and reason (and its bytes when they fit the blob limit)."""
    settings = services.settings

    def insert(session: Session) -> int | None:
        blob = None
        if len(data) <= settings.max_blob_bytes and data:
            blob = put_blob(session, data, "application/octet-stream", max_bytes=settings.max_blob_bytes)
        statement = insert_ignoring(dialect_of(session), PaperScan, ("sha256",), "id")
        scan_id = session.execute(statement, {
            "sha256": sha, "blob_sha256": blob, "file_name": name, "media_type": None, "size": len(data),
            "status": "rejected", "error_kind": error.kind, "error": error.user_message, "page_count": 0,
            "hall_hint": hall_hint, "uploaded_by": by, "uploaded_at": datetime.now(UTC),
            "finished_at": datetime.now(UTC)}).scalar_one_or_none()
        add_audit(session, who, "paper.upload_rejected", ip=ip, target_type="paper_scan", target_id=scan_id,
                  detail={"file": name, "bytes": len(data), "kind": error.kind})
        return scan_id

    scan_id = await services.store.run_write(insert)
    return FileOutcome(name, sha, "rejected", scan_id, None, error.user_message, error.kind, error.http_status)
