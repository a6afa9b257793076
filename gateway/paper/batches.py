"""Scanned batches into the mailroom, in the background: every file, page and slip stored exactly once.

An upload only checks each file's header (type, size, page count, bombs) and stores its bytes as a
*queued* scan of a new batch: the request answers at once with the batch's page.  The
``paper_batches`` worker job then takes batches in upload order and, per page, decodes the slip
codes, reads the ticks and the handwriting (OCR, when installed) in a worker thread, and stores the
page with its image and its drafts in one transaction.  A page is stored once (``UNIQUE (scan_id,
page_no)``) together with its drafts, so a crash mid-batch leaves whole pages only, and the batch
is resumed — by the next worker run once its heartbeat is stale — at the first page not stored,
without a second draft.  The same file uploaded again makes nothing new.

A page without a readable slip code is stored as ``needs_id``, or — when OCR reads a page of text
that does not carry the slip form's printed words — as ``letter``, with a draft that waits for
staff to pick its hall.  A file that cannot be read is stored as ``rejected`` with the reason; the
other files of the batch are unaffected.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session

from channels.paper import ocr
from channels.paper.codes import format_serial
from channels.paper.decode import candidates, dark_map, qr_pixels
from channels.paper.documents import DocumentError, Limits, LoadedPage, inspect, load_pages
from channels.paper.reader import PageReading, SlipReading, read_page, slip_image
from channels.paper.writing import looks_like_slip, read_letter
from gateway.auth.audit import add_audit
from gateway.auth.roles import Principal
from gateway.core.blobs import get_blob, put_blob
from gateway.core.db.dialect import dialect_of, insert_ignoring
from gateway.core.db.models import Case, Message
from gateway.core.db.models_paper import PaperBatch, PaperDraft, PaperPage, PaperScan
from gateway.core.services import Services
from gateway.paper.slips import issued_run, window_exists

log = logging.getLogger(__name__)
PAGE_JPEG_QUALITY = 80
SLIP_DPI = 150
LETTER_MIN_CHARS = 8  # fewer recognised characters on a page without a code: a smudged slip, not a letter
BLANK_PAGE_INK = 0.002  # fraction of dark 4-pixel blocks below which a page is empty
LETTER_PX = 1800  # a letter page is read at most this many pixels on its long side (speed)
STALE_AFTER = timedelta(minutes=2)  # a running batch without a heartbeat this long is resumed


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
    text: str = ""
    text_confidence: float | None = None
    blank: bool = False
    origin: str = "qr"


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
    """What happened to one file: ``queued``/``processing`` (waiting for the worker), ``accepted``/``done``
    (read), ``repeat`` (seen before) or ``rejected``."""

    name: str
    sha256: str
    status: str
    scan_id: int | None = None
    media_type: str | None = None
    error: str | None = None
    error_kind: str | None = None
    http_status: int = 200
    pages: list[PageOutcome] = field(default_factory=list)
    pages_total: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchOutcome:
    """An upload: its batch (``None`` when nothing in it needed work) and each file's fate."""

    batch_id: int | None
    files: list[FileOutcome]


@dataclass
class _Prepared:
    """A decoded page, ready to store (everything CPU-heavy already done in a worker thread)."""

    page: LoadedPage
    reading: PageReading | None
    image_bytes: bytes | None
    image_type: str
    slip_images: list[bytes | None]
    letter: ocr.OcrText | None = None


def _encode(image: Image.Image, bilevel: bool) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    if bilevel:
        image.convert("1").save(buffer, "PNG", optimize=True)
        return buffer.getvalue(), "image/png"
    image.save(buffer, "JPEG", quality=PAGE_JPEG_QUALITY, optimize=True)
    return buffer.getvalue(), "image/jpeg"


def _letter(image: Image.Image, dpi: float | None) -> ocr.OcrText | None:
    """The page read whole, if it is a letter: enough text, and none of the slip form's printed words.

    A page with a code-sized dark square is taken for a slip whose code could not be read (stained,
    covered, torn) without reading it: that saves seconds of OCR per such page, and a letter that
    carries such a square (a dark stamp) only ends on the manual-id list, as every page did before."""
    if ocr.unavailable() is not None:
        return None
    array = np.asarray(image)
    if dark_map(array, 4).mean() < BLANK_PAGE_INK:  # an empty page (the back of a duplex scan): nothing to read
        return None
    if candidates(array, qr_pixels(array.shape, dpi)):
        return None
    scale = LETTER_PX / max(image.size)
    small = image.resize((round(image.width * scale), round(image.height * scale))) if scale < 1 else image
    try:
        text = read_letter(np.asarray(small))
    except Exception:  # OCR trouble must not lose the page: it stays on the manual-id list
        log.exception("reading a page as a letter failed")
        return None
    compact = "".join(text.text.split())
    if len(compact) < LETTER_MIN_CHARS or looks_like_slip(compact):
        return None
    return text


def _prepare(page: LoadedPage, key: bytes) -> _Prepared:
    if page.image is None:
        return _Prepared(page, None, None, "", [])
    try:
        reading = read_page(page.image, key, dpi=page.dpi, read_text=True)
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
    letter = _letter(page.image, page.dpi) if not reading.slips else None
    return _Prepared(page, reading, data, media_type, crops, letter)


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


def _ocr_fields(text: ocr.OcrText | None) -> dict[str, Any]:
    if text is None:  # OCR not installed: nothing was read, nothing to measure later
        return {"text": "", "text_read": None, "text_confidence": None, "ocr_lines": []}
    return {"text": text.text, "text_read": text.text, "text_confidence": text.confidence,
            "ocr_lines": [line.to_dict() for line in text.lines]}


def _seal(services: Services, contact: dict[str, str]) -> bytes | None:
    return services.cipher.seal(json.dumps(contact, ensure_ascii=False)) if contact else None


def _slip_outcome(draft: PaperDraft) -> SlipOutcome:
    return SlipOutcome(
        draft.id, draft.slot, format_serial(draft.serial) if draft.serial else None, draft.hall_code,
        draft.window_code, draft.signature_ok, draft.issued, draft.rating_read, draft.rating_confidence,
        list(draft.reasons_read), draft.status, draft.duplicate_of is not None, draft.duplicate_of,
        draft.text_read or "", draft.text_confidence, draft.blank, draft.origin)


def _store_page(session: Session, services: Services, scan_id: int, prepared: _Prepared) -> PageOutcome:
    settings = services.settings
    now = datetime.now(UTC)
    page_no = prepared.page.index + 1
    reading = prepared.reading
    image_sha = None
    if prepared.image_bytes is not None:
        image_sha = put_blob(session, prepared.image_bytes, prepared.image_type, max_bytes=settings.max_blob_bytes)
    status = ("unreadable" if reading is None else "decoded" if reading.slips
              else "letter" if prepared.letter is not None else "needs_id")
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
    if page_id is None or reading is None:  # another run stored this page first
        return outcome
    if prepared.letter is not None:
        draft = PaperDraft(
            page_id=page_id, slot=0, origin="letter", serial=None, size=None, hall_code=None, window_code=None,
            signature_ok=None, issued=False, image_sha256=None, reasons_read=[], status="open",
            duplicate_of=None, reasons=[], note="来信（不是意见卡）：请选择所属大厅后受理", created_at=now,
            updated_at=now, **_ocr_fields(prepared.letter))
        session.add(draft)
        session.flush()
        outcome.slips.append(_slip_outcome(draft))
        return outcome
    for slot, (slip, crop) in enumerate(zip(reading.slips, prepared.slip_images, strict=True)):
        crop_sha = put_blob(session, crop, "image/jpeg", max_bytes=settings.max_blob_bytes) if crop else None
        code = slip.code
        run = issued_run(session, code.serial)
        issued = run is not None and run.hall_code == code.hall and run.window_code == code.window
        known_place = window_exists(session, code.hall, code.window)
        duplicate = duplicate_of(session, code.serial) if slip.signature_ok else None
        writing = slip.writing
        contact = {key: line.text for key, line in (writing.contact if writing else {}).items()}
        draft = PaperDraft(
            page_id=page_id, slot=slot, origin="qr", serial=code.serial, size=code.size,
            hall_code=code.hall if known_place else None, window_code=code.window if known_place else None,
            signature_ok=slip.signature_ok, issued=issued, image_sha256=crop_sha,
            rating_read=slip.rating.choice if slip.rating else None,
            rating_confidence=slip.rating.confidence if slip.rating else None,
            reasons_read=list(slip.reasons), reasons_confidence=slip.reasons_confidence,
            reply_read=slip.reply.choice if slip.reply and slip.reply.confidence >= 0.5 else None,
            status="duplicate" if duplicate else "open", duplicate_of=duplicate,
            rating=slip.rating.choice if slip.rating and slip.rating.confidence >= 0.5 else None,
            reasons=list(slip.reasons) if slip.reasons_confidence >= 0.5 and _bad(slip) else [],
            contact_enc=_seal(services, {k: v for k, v in contact.items() if k in ("name", "phone")}),
            tracking_code=contact.get("tracking_code", "")[:32] or None, blank=slip.blank,
            note=None if known_place else f"二维码中的大厅/窗口（{code.hall}/{code.window or '-'}）不在登记表中",
            created_at=now, updated_at=now, **_ocr_fields(writing.text if writing else None))
        session.add(draft)
        session.flush()
        outcome.slips.append(_slip_outcome(draft))
    return outcome


async def file_outcome(services: Services, scan: PaperScan, status: str | None = None) -> FileOutcome:
    """A stored file with its pages and drafts, as they are now."""
    outcome = FileOutcome(scan.file_name, scan.sha256, status or scan.status, scan.id, scan.media_type, scan.error,
                          scan.error_kind, 200, pages_total=scan.pages_total)
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
        page_outcome.slips = [_slip_outcome(d) for d in by_page.get(page.id, []) if d.origin != "manual"]
        outcome.pages.append(page_outcome)
    return outcome


def _clean_name(name: str) -> str:
    return (name or "upload").replace("\\", "/").rsplit("/", 1)[-1][:200] or "upload"


async def enqueue(services: Services, files: Sequence[tuple[str, bytes]], *, by: str, who: Principal | None = None,
                  ip: str | None = None, hall_hint: str | None = None, limits: Limits | None = None,
                  claim: bool = False) -> BatchOutcome:
    """Check each file's header and queue the readable ones as one batch; never raises for bad input.

    ``claim``: the caller processes the batch itself at once (the CLI), so it starts as running."""
    store, settings = services.store, services.settings
    limits = limits or Limits(max_bytes=settings.max_blob_bytes)
    now = datetime.now(UTC)
    outcomes: list[FileOutcome] = []
    queued: list[tuple[str, bytes, str, str, int]] = []
    seen: set[str] = set()
    for raw_name, data in files:
        name = _clean_name(raw_name)
        sha = hashlib.sha256(data).hexdigest()
        async with store.read() as session:
            existing = (await session.execute(select(PaperScan).where(PaperScan.sha256 == sha))).scalar_one_or_none()
        if existing is not None or sha in seen:
            # An interrupted file is taken over by this batch when this caller reads it itself (the CLI),
            # or when no batch holds it (a scan left half-read by a version that read uploads in the request).
            if existing is not None and existing.status in ("queued", "processing") and (
                    claim or existing.batch_id is None):
                queued.append((name, data, sha, existing.media_type or "", existing.pages_total or 0))
                continue
            outcomes.append(await file_outcome(services, existing, "repeat") if existing is not None
                            else FileOutcome(name, sha, "repeat"))
            continue
        seen.add(sha)
        try:
            media_type, pages = await asyncio.to_thread(inspect, data, name, limits)
        except DocumentError as error:
            outcomes.append(await _reject(services, data, name, sha, error, by=by, who=who, ip=ip,
                                          hall_hint=hall_hint))
            continue
        queued.append((name, data, sha, media_type, pages))
    if not queued:
        return BatchOutcome(None, outcomes)

    def insert(session: Session) -> tuple[int, list[FileOutcome]]:
        batch = PaperBatch(status="running" if claim else "queued", files=len(queued), hall_hint=hall_hint,
                           uploaded_by=by, uploaded_at=now, heartbeat_at=now if claim else None,
                           started_at=now if claim else None)
        session.add(batch)
        session.flush()
        made = []
        for name, data, sha, media_type, pages in queued:
            existing = session.execute(select(PaperScan).where(PaperScan.sha256 == sha)).scalar_one_or_none()
            if existing is not None:  # an interrupted earlier run of the same file: this batch takes it over
                existing.batch_id = batch.id
                made.append(FileOutcome(existing.file_name, sha, "queued", existing.id, existing.media_type,
                                        pages_total=existing.pages_total))
                continue
            blob = put_blob(session, data, media_type, max_bytes=settings.max_blob_bytes)
            statement = insert_ignoring(dialect_of(session), PaperScan, ("sha256",), "id")
            scan_id = session.execute(statement, {
                "sha256": sha, "blob_sha256": blob, "file_name": name, "media_type": media_type, "size": len(data),
                "status": "queued", "error_kind": None, "error": None, "page_count": 0, "hall_hint": hall_hint,
                "uploaded_by": by, "uploaded_at": now, "finished_at": None, "batch_id": batch.id,
                "pages_total": pages}).scalar_one_or_none()
            if scan_id is None:  # the same file queued by a concurrent upload
                continue
            add_audit(session, who, "paper.upload", ip=ip, target_type="paper_scan", target_id=scan_id,
                      detail={"file": name, "bytes": len(data), "sha256": sha, "batch": batch.id})
            made.append(FileOutcome(name, sha, "queued", scan_id, media_type, pages_total=pages))
        return batch.id, made

    batch_id, made = await store.run_write(insert)
    return BatchOutcome(batch_id, made + outcomes)


def _next_page(pages: Iterator[LoadedPage]) -> LoadedPage | None:
    return next(pages, None)


async def _heartbeat(services: Services, batch_id: int | None) -> None:
    if batch_id is None:
        return
    async with services.store.write() as session:
        await session.execute(update(PaperBatch).where(PaperBatch.id == batch_id)
                              .values(heartbeat_at=datetime.now(UTC)))


async def process_scan(services: Services, scan_id: int, *,
                       on_page: Callable[[PageOutcome], None] | None = None) -> None:
    """Decode, read and store every page of one queued file not stored yet (resumes after a crash)."""
    store, settings = services.store, services.settings
    async with store.read() as session:
        scan = (await session.execute(select(PaperScan).where(PaperScan.id == scan_id))).scalar_one()
        blob = await get_blob(session, scan.blob_sha256) if scan.blob_sha256 else None
        done = set((await session.execute(select(PaperPage.page_no).where(PaperPage.scan_id == scan_id))).scalars())
    if scan.status not in ("queued", "processing"):
        return
    async with store.write() as session:
        await session.execute(update(PaperScan).where(PaperScan.id == scan_id).values(status="processing"))
    limits = Limits(max_bytes=settings.max_blob_bytes)
    file_error: DocumentError | None = None
    count = 0
    if blob is None:
        file_error = DocumentError("corrupt", f"{scan.file_name}: stored bytes missing",
                                   f"{scan.file_name}：文件内容丢失，请重新上传")
    else:
        try:
            _, pages_iter = load_pages(blob.data, scan.file_name, limits)
        except DocumentError as error:
            file_error = error
        else:
            key = settings.signing_key()
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
                outcome = await store.run_write(
                    lambda session, prepared=prepared: _store_page(session, services, scan_id, prepared))
                await _heartbeat(services, scan.batch_id)
                if on_page is not None:
                    on_page(outcome)
    now = datetime.now(UTC)
    async with store.write() as session:
        if file_error is not None and count == 0:
            await session.execute(update(PaperScan).where(PaperScan.id == scan_id).values(
                status="rejected", error_kind=file_error.kind, error=file_error.user_message, finished_at=now))
        else:
            await session.execute(update(PaperScan).where(PaperScan.id == scan_id).values(
                status="done", page_count=count, pages_total=count, finished_at=now,
                error=file_error.user_message if file_error else None,
                error_kind=file_error.kind if file_error else None))


async def process_batch(services: Services, batch_id: int, *,
                        on_page: Callable[[PageOutcome], None] | None = None) -> None:
    """Every file of the batch still to do, in upload order; then the batch is done."""
    async with services.store.read() as session:
        scan_ids = (await session.execute(select(PaperScan.id).where(
            PaperScan.batch_id == batch_id, PaperScan.status.in_(("queued", "processing")))
            .order_by(PaperScan.id))).scalars().all()
    for scan_id in scan_ids:
        await process_scan(services, scan_id, on_page=on_page)
    async with services.store.write() as session:
        await session.execute(update(PaperBatch).where(PaperBatch.id == batch_id).values(
            status="done", finished_at=datetime.now(UTC), heartbeat_at=datetime.now(UTC)))


async def _claim_next(services: Services, stale_after: timedelta) -> int | None:
    """The oldest queued batch, or a running one whose processor stopped beating; claimed atomically."""
    now = datetime.now(UTC)
    async with services.store.read() as session:
        candidate = (await session.execute(
            select(PaperBatch.id, PaperBatch.heartbeat_at).where(or_(
                PaperBatch.status == "queued",
                (PaperBatch.status == "running") & ((PaperBatch.heartbeat_at.is_(None))
                                                    | (PaperBatch.heartbeat_at < now - stale_after))))
            .order_by(PaperBatch.id).limit(1))).first()
    if candidate is None:
        return None
    batch_id, beat = candidate
    async with services.store.write() as session:
        claim = update(PaperBatch).where(PaperBatch.id == batch_id)
        claim = claim.where(PaperBatch.heartbeat_at == beat) if beat is not None else claim.where(
            PaperBatch.heartbeat_at.is_(None))
        result = await session.execute(claim.values(status="running", heartbeat_at=now,
                                                    started_at=func.coalesce(PaperBatch.started_at, now)))
    return batch_id if result.rowcount == 1 else None


async def run_pending(services: Services, *, stale_after: timedelta = STALE_AFTER) -> dict[str, int]:
    """The worker job: process queued (and abandoned) batches one after another, oldest first."""
    batches = pages = 0

    def count(_: PageOutcome) -> None:
        nonlocal pages
        pages += 1

    while (batch_id := await _claim_next(services, stale_after)) is not None:
        await process_batch(services, batch_id, on_page=count)
        batches += 1
    return {"batches": batches, "pages": pages}


async def batch_progress(services: Services, batch_id: int) -> dict[str, Any] | None:
    """What the batch page shows: its state, place in the queue and the figures so far."""
    async with services.store.read() as session:
        batch = await session.get(PaperBatch, batch_id)
        if batch is None:
            return None
        scans = (await session.execute(select(PaperScan).where(PaperScan.batch_id == batch_id)
                                       .order_by(PaperScan.id))).scalars().all()
        scan_ids = [s.id for s in scans]
        pages = (await session.execute(
            select(PaperPage.scan_id, func.count(), func.coalesce(func.sum(PaperPage.slips), 0))
            .where(PaperPage.scan_id.in_(scan_ids)).group_by(PaperPage.scan_id))).all()
        drafts = (await session.execute(
            select(PaperPage.scan_id, func.count(), func.sum(case((PaperDraft.blank.is_(True), 1), else_=0)),
                   func.sum(case((PaperDraft.origin == "letter", 1), else_=0)))
            .join(PaperPage, PaperPage.id == PaperDraft.page_id)
            .where(PaperPage.scan_id.in_(scan_ids), PaperDraft.origin != "manual")
            .group_by(PaperPage.scan_id))).all()
        ahead = 0
        if batch.status == "queued":
            ahead = (await session.execute(select(func.count()).select_from(PaperBatch).where(
                PaperBatch.status.in_(("queued", "running")), PaperBatch.id < batch_id))).scalar_one()
    by_scan = {scan_id: (n, slips) for scan_id, n, slips in pages}
    made = {scan_id: (n, blank or 0, letters or 0) for scan_id, n, blank, letters in drafts}
    files = []
    for scan in scans:
        done, slips = by_scan.get(scan.id, (0, 0))
        drafts_made, blanks, letters = made.get(scan.id, (0, 0, 0))
        files.append({"id": scan.id, "name": scan.file_name, "status": scan.status, "error": scan.error,
                      "pages_total": scan.pages_total, "pages_done": done, "slips": int(slips),
                      "drafts": drafts_made, "blank": int(blanks), "letters": int(letters)})
    total = sum(f["pages_total"] or 0 for f in files)
    return {
        "id": batch.id, "status": batch.status, "uploaded_by": batch.uploaded_by, "uploaded_at": batch.uploaded_at,
        "started_at": batch.started_at, "finished_at": batch.finished_at, "hall_hint": batch.hall_hint,
        "ahead": ahead, "files": files, "pages_total": total,
        "pages_done": sum(f["pages_done"] for f in files), "slips": sum(f["slips"] for f in files),
        "drafts": sum(f["drafts"] for f in files), "blank": sum(f["blank"] for f in files),
        "letters": sum(f["letters"] for f in files),
    }


async def batch_files(services: Services, batch_id: int) -> list[FileOutcome]:
    async with services.store.read() as session:
        scans = (await session.execute(select(PaperScan).where(PaperScan.batch_id == batch_id)
                                       .order_by(PaperScan.id))).scalars().all()
    return [await file_outcome(services, scan) for scan in scans]


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
