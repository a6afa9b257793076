"""Tables of the paper channel: issued slip serials, uploaded scans, their pages, and the mailroom queue.

* ``paper_print_runs`` – every printed batch of slips and the serial range it used.  Serials are
  never reused: a new run starts after the highest range so far (``first_serial`` is unique, so two
  concurrent runs cannot take the same range), and a serial typed by staff is checked against them.
* ``paper_batches`` – one upload (one or more files), processed in the background by the
  ``paper_batches`` worker job in upload order; staff watch its progress on its page.
* ``paper_scans`` – one uploaded file, found again by its SHA-256: uploading the same file twice
  resumes or shows the first upload instead of making second drafts.  The original bytes live in
  ``blobs``; a refused file keeps its row and reason (and its bytes, when within the blob limit).
* ``paper_pages`` – every page of a scan with its image (a blob), whether a code was read, and the
  "needs manual id" state when none was.  ``UNIQUE (scan_id, page_no)``: a page is stored once.
* ``paper_drafts`` – the mailroom queue: one slip found on a page (``UNIQUE (page_id, slot)``), its
  decoded or typed serial, signature check, mark readings, the staff's transcription and the case
  it became.  Contact details typed by staff are personal data, sealed by the data cipher.
  ``text_read`` keeps what OCR read (``NULL`` when it did not run) beside the text staff confirmed,
  so the recogniser can be measured on real slips; ``blank`` marks a slip with no tick and no
  writing, which needs a reason to be confirmed; ``void_reason`` is why staff voided a draft.
  ``origin`` is ``qr`` (code read), ``manual`` (id typed by staff) or ``letter`` (a page that is not
  a slip, read whole).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db.models import Base
from gateway.core.db.types import BigId


class PaperPrintRun(Base):
    __tablename__ = "paper_print_runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_code: Mapped[str] = mapped_column(String(32))
    window_code: Mapped[str | None] = mapped_column(String(32))
    size: Mapped[str] = mapped_column(String(4))
    first_serial: Mapped[int] = mapped_column(BigInteger, unique=True)
    count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))


class PaperBatch(Base):
    __tablename__ = "paper_batches"
    __table_args__ = (Index("ix_paper_batches_status", "status"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    status: Mapped[str] = mapped_column(String(12))  # queued, running, done
    files: Mapped[int] = mapped_column(Integer, default=0)
    hall_hint: Mapped[str | None] = mapped_column(String(32))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]  # the processor's last sign of life (a stale one is resumed)
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class PaperScan(Base):
    __tablename__ = "paper_scans"
    __table_args__ = (Index("ix_paper_scans_uploaded", "uploaded_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    blob_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    file_name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str | None] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12))
    error_kind: Mapped[str | None] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    page_count: Mapped[int] = mapped_column(Integer, default=0)
    hall_hint: Mapped[str | None] = mapped_column(String(32))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("paper_batches.id", ondelete="SET NULL"), index=True)
    pages_total: Mapped[int | None] = mapped_column(Integer)
    removed_at: Mapped[datetime | None]  # retention deleted the uploaded file (``blob_sha256`` is NULL)


class PaperPage(Base):
    __tablename__ = "paper_pages"
    __table_args__ = (
        UniqueConstraint("scan_id", "page_no"),
        Index("ix_paper_pages_status", "status"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("paper_scans.id", ondelete="CASCADE"))
    page_no: Mapped[int] = mapped_column(Integer)
    image_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(12))
    slips: Mapped[int] = mapped_column(Integer, default=0)
    foreign_codes: Mapped[list[Any]] = mapped_column(default=list)
    error: Mapped[str | None] = mapped_column(Text)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]  # retention deleted the page image (``image_sha256`` is NULL)


class PaperDraft(Base):
    __tablename__ = "paper_drafts"
    __table_args__ = (
        UniqueConstraint("page_id", "slot"),
        Index("ix_paper_drafts_status_hall", "status", "hall_code"),
        Index("ix_paper_drafts_serial", "serial"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("paper_pages.id", ondelete="CASCADE"))
    slot: Mapped[int] = mapped_column(Integer)
    origin: Mapped[str] = mapped_column(String(8))
    serial: Mapped[int | None] = mapped_column(BigInteger)
    size: Mapped[str | None] = mapped_column(String(4))
    hall_code: Mapped[str | None] = mapped_column(String(32))
    window_code: Mapped[str | None] = mapped_column(String(32))
    signature_ok: Mapped[bool | None] = mapped_column(Boolean)
    issued: Mapped[bool] = mapped_column(Boolean, default=False)
    image_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    rating_read: Mapped[str | None] = mapped_column(String(20))
    rating_confidence: Mapped[float | None] = mapped_column(Float)
    reasons_read: Mapped[list[Any]] = mapped_column(default=list)
    reasons_confidence: Mapped[float | None] = mapped_column(Float)
    reply_read: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12))
    duplicate_of: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text, default="")
    rating: Mapped[str | None] = mapped_column(String(20))
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    contact_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    tracking_code: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    case_code: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(String(64))
    confirmed_at: Mapped[datetime | None]
    text_read: Mapped[str | None] = mapped_column(Text)
    text_confidence: Mapped[float | None] = mapped_column(Float)
    ocr_lines: Mapped[list[Any]] = mapped_column(default=list)
    blank: Mapped[bool] = mapped_column(Boolean, default=False)
    blank_reason: Mapped[str | None] = mapped_column(Text)
    void_reason: Mapped[str | None] = mapped_column(Text)
    removed_at: Mapped[datetime | None]  # retention deleted the slip image (``image_sha256`` is NULL)
