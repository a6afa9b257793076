"""The mailroom queue: drafts to transcribe, pages that need a manual id, and turning a draft into a case.

Confirming is exactly-once through the ingestor: the intake's source reference is the slip serial
(or the scan's place for an untrusted code), so a second confirm — by a double click, a second
draft of the same slip, or a retry after a crash between ingest and marking the draft — returns
the existing case instead of making another.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from channels.contact import mask_name, mask_phone
from channels.intake import IntakeError
from channels.paper.codes import SlipCodeError, format_serial, parse_serial
from channels.paper.intake import slip_intake, source_reference
from channels.paper.ocr import character_errors
from channels.ratings import REASON_CODES, Rating
from gateway.auth.audit import add_audit
from gateway.auth.roles import Principal
from gateway.core.blobs import get_blob
from gateway.core.db.models import Hall, Window, WorkerState
from gateway.core.db.models_paper import PaperBatch, PaperDraft, PaperPage, PaperScan
from gateway.core.ingest import IngestError
from gateway.core.labels import PAGE_IMAGE_REMOVED, PAPER_DRAFT_LABELS
from gateway.core.personal import PersonalDataCipher
from gateway.core.services import Services
from gateway.paper.batches import duplicate_of
from gateway.paper.slips import issued_run, window_exists

RATING_VALUES = frozenset(r.value for r in Rating)
STATUS_LABELS = PAPER_DRAFT_LABELS


class DraftError(ValueError):
    """A mailroom action that cannot be done; ``message`` is Chinese, for the page; ``status`` the HTTP code."""

    def __init__(self, message: str, status: int = 400, problems: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.problems = problems or {}


@dataclass
class DraftValues:
    """What staff typed on the draft page."""

    text: str = ""
    rating: str | None = None
    reasons: list[str] = field(default_factory=list)
    name: str = ""
    phone: str = ""
    preferred: str = ""
    tracking_code: str = ""

    @classmethod
    def from_form(cls, form: Any) -> DraftValues:
        def get(name: str) -> str:
            value = form.get(name)
            return str(value).strip() if isinstance(value, str) else ""

        reasons = ([str(v) for v in form.getlist("reasons")] if hasattr(form, "getlist")
                   else list(form.get("reasons", [])))
        rating = get("rating")
        return cls(text=get("text")[:50_000], rating=rating if rating in RATING_VALUES else None,
                   reasons=[r for r in reasons if r in REASON_CODES], name=get("name")[:50], phone=get("phone")[:40],
                   preferred=get("preferred") if get("preferred") in ("sms", "phone", "none") else "",
                   tracking_code=get("tracking_code")[:32])

    def contact(self) -> dict[str, Any]:
        contact: dict[str, Any] = {}
        if self.name:
            contact["name"] = self.name
            contact["real_name"] = True
        if self.phone:
            contact["phone"] = self.phone
        if self.preferred in ("sms", "phone", "none"):
            contact["preferred_channel"] = self.preferred
        return contact


@dataclass
class DraftView:
    id: int
    status: str
    origin: str
    serial: str | None
    hall: str | None
    hall_name: str | None
    window: str | None
    window_name: str | None
    signature_ok: bool | None
    issued: bool
    rating_read: str | None
    rating_confidence: float | None
    reasons_read: list[str]
    reasons_confidence: float | None
    reply_read: str | None
    duplicate_of: str | None
    values: DraftValues
    case_code: str | None
    note: str | None
    page_id: int
    page_no: int
    scan_id: int
    file_name: str
    has_slip_image: bool
    uploaded_at: datetime
    updated_by: str | None
    text_read: str | None = None
    text_confidence: float | None = None
    ocr_lines: list[dict[str, Any]] = field(default_factory=list)
    blank: bool = False
    blank_reason: str | None = None
    void_reason: str | None = None
    hall_hint: str | None = None
    uploaded_by: str = ""
    image_removed: bool = False  # retention deleted the slip's image

    @property
    def low_lines(self) -> int:
        return sum(1 for line in self.ocr_lines if line.get("low"))

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def rating_read_label(self) -> str:
        return Rating(self.rating_read).label if self.rating_read else "未识别到勾选"


def _seal_contact(cipher: PersonalDataCipher, values: DraftValues) -> bytes | None:
    data = {k: v for k, v in (("name", values.name), ("phone", values.phone)) if v}
    return cipher.seal(json.dumps(data, ensure_ascii=False)) if data else None


def _open_contact(cipher: PersonalDataCipher, sealed: bytes | None) -> dict[str, str]:
    if not sealed:
        return {}
    return json.loads(cipher.open(sealed) or "{}")


async def _names(session: Any) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    halls = {code: name for code, name in (await session.execute(select(Hall.code, Hall.name))).all()}
    windows = {(hall, code): name for hall, code, name in (await session.execute(
        select(Hall.code, Window.code, Window.name).join(Window, Window.hall_id == Hall.id))).all()}
    return halls, windows


async def queue(services: Services, towns: frozenset[str] | None, *, status: str = "open",
                hall: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Drafts in ``status`` (oldest first, the order slips came out of the box), limited to ``towns``."""
    query = (select(PaperDraft, PaperPage.page_no, PaperScan.file_name, PaperScan.uploaded_at)
             .join(PaperPage, PaperPage.id == PaperDraft.page_id).join(PaperScan, PaperScan.id == PaperPage.scan_id))
    if status == "flagged":
        query = query.where(PaperDraft.status == "open", PaperDraft.signature_ok.is_(False))
    elif status == "blank":
        query = query.where(PaperDraft.status == "open", PaperDraft.blank.is_(True))
    elif status == "letters":
        query = query.where(PaperDraft.status == "open", PaperDraft.origin == "letter")
    elif status == "open":
        query = query.where(PaperDraft.status == "open", PaperDraft.blank.is_(False))
    else:
        query = query.where(PaperDraft.status == status)
    if towns is not None:
        query = query.where(_in_towns(towns))
    if hall:
        query = query.where(PaperDraft.hall_code == hall)
    order = PaperDraft.id.desc() if status in ("confirmed", "discarded") else PaperDraft.id
    async with services.store.read() as session:
        rows = (await session.execute(query.order_by(order).limit(limit))).all()
        halls, windows = await _names(session)
    return [{
        "id": d.id, "serial": format_serial(d.serial) if d.serial else None, "hall": d.hall_code,
        "hall_name": halls.get(d.hall_code or "", d.hall_code or "未知"),
        "window_name": windows.get((d.hall_code or "", d.window_code or ""), d.window_code or ""),
        "signature_ok": d.signature_ok, "issued": d.issued, "origin": d.origin,
        "rating_read": Rating(d.rating_read).label if d.rating_read else None,
        "rating_confidence": d.rating_confidence, "status": d.status, "status_label": STATUS_LABELS[d.status],
        "duplicate_of": d.duplicate_of, "case_code": d.case_code, "file_name": file_name, "page_no": page_no,
        "uploaded_at": uploaded_at, "has_text": bool(d.text) and d.text != (d.text_read or ""),
        "text_read": bool(d.text_read), "low_lines": sum(1 for line in d.ocr_lines or () if line.get("low")),
        "blank": d.blank, "void_reason": d.void_reason,
    } for d, page_no, file_name, uploaded_at in rows]


def _in_towns(towns: frozenset[str]) -> Any:
    """A draft of the towns, or a letter without a hall yet from a batch declared for one of them."""
    names = sorted(towns)
    return or_(PaperDraft.hall_code.in_(names), and_(PaperDraft.hall_code.is_(None), PaperScan.hall_hint.in_(names)))


async def counts(services: Services, towns: frozenset[str] | None) -> dict[str, int]:
    """Drafts per tab of the mailroom page (``open`` leaves the blank slips out: they have their own)."""
    joined = (select(func.count()).select_from(PaperDraft).join(PaperPage, PaperPage.id == PaperDraft.page_id)
              .join(PaperScan, PaperScan.id == PaperPage.scan_id))
    if towns is not None:
        joined = joined.where(_in_towns(towns))
    is_open = PaperDraft.status == "open"
    filters = {
        "open": and_(is_open, PaperDraft.blank.is_(False)), "blank": and_(is_open, PaperDraft.blank.is_(True)),
        "letters": and_(is_open, PaperDraft.origin == "letter"),
        "flagged": and_(is_open, PaperDraft.signature_ok.is_(False)),
        "duplicate": PaperDraft.status == "duplicate", "confirmed": PaperDraft.status == "confirmed",
        "discarded": PaperDraft.status == "discarded",
    }
    result = {}
    async with services.store.read() as session:
        for key, condition in filters.items():
            result[key] = (await session.execute(joined.where(condition))).scalar_one()
        # Blank slips ever found (voided, confirmed with a reason or still open), for the page's summary.
        result["blank_total"] = (await session.execute(joined.where(PaperDraft.blank.is_(True)))).scalar_one()
    return result


async def ocr_quality(services: Services, towns: frozenset[str] | None) -> dict[str, Any]:
    """How well OCR read the slips staff have confirmed: character error rate of what it read
    against what staff confirmed (their corrections are the reference), and how many were changed."""
    query = (select(PaperDraft.text_read, PaperDraft.text).join(PaperPage, PaperPage.id == PaperDraft.page_id)
             .join(PaperScan, PaperScan.id == PaperPage.scan_id)
             .where(PaperDraft.status == "confirmed", PaperDraft.text_read.is_not(None))
             .order_by(PaperDraft.id.desc()).limit(1000))
    if towns is not None:
        query = query.where(_in_towns(towns))
    async with services.store.read() as session:
        rows = (await session.execute(query)).all()
    errors = characters = changed = 0
    for read, final in rows:
        errors += character_errors(final or "", read or "")
        characters += len("".join((final or "").split()))
        changed += "".join((final or "").split()) != "".join((read or "").split())
    return {"drafts": len(rows), "changed": changed, "characters": characters,
            "cer": round(errors / characters, 4) if characters else None}


async def recent_batches(services: Services, user: Principal | None, *, limit: int = 10) -> list[dict[str, Any]]:
    async with services.store.read() as session:
        rows = (await session.execute(select(PaperBatch).order_by(PaperBatch.id.desc()).limit(limit))).scalars().all()
    return [{"id": b.id, "status": b.status, "files": b.files, "uploaded_by": b.uploaded_by,
             "uploaded_at": b.uploaded_at, "finished_at": b.finished_at}
            for b in rows if _page_visible(b.hall_hint, b.uploaded_by, user)]


async def worker_seen(services: Services) -> datetime | None:
    """When the background job that reads batches last reported (``None``: never, so no worker runs)."""
    async with services.store.read() as session:
        return (await session.execute(select(WorkerState.updated_at).where(
            WorkerState.key == "job:paper-batches"))).scalar_one_or_none()


def _page_visible(hall_hint: str | None, uploaded_by: str, user: Principal | None) -> bool:
    if user is None or user.town_filter() is None:
        return True
    return uploaded_by == user.username or (hall_hint is not None and user.can_access_town(hall_hint))


async def pages_needing_id(services: Services, user: Principal | None, *, limit: int = 200) -> list[dict[str, Any]]:
    """Pages on which no slip code could be read; staff type the serial or pick the hall."""
    async with services.store.read() as session:
        rows = (await session.execute(
            select(PaperPage, PaperScan.file_name, PaperScan.hall_hint, PaperScan.uploaded_by, PaperScan.uploaded_at)
            .join(PaperScan, PaperScan.id == PaperPage.scan_id)
            .where(PaperPage.status.in_(("needs_id", "unreadable"))).order_by(PaperPage.id).limit(limit))).all()
    return [{"id": p.id, "page_no": p.page_no, "file_name": name, "hall_hint": hint, "status": p.status,
             "error": p.error, "foreign_codes": p.foreign_codes, "uploaded_at": at, "has_image": bool(p.image_sha256)}
            for p, name, hint, by, at in rows if _page_visible(hint, by, user)]


async def recent_scans(services: Services, user: Principal | None, *, limit: int = 30) -> list[dict[str, Any]]:
    async with services.store.read() as session:
        rows = (await session.execute(select(PaperScan).order_by(PaperScan.id.desc()).limit(limit))).scalars().all()
    return [{"id": s.id, "file_name": s.file_name, "status": s.status, "error": s.error, "pages": s.page_count,
             "uploaded_at": s.uploaded_at, "uploaded_by": s.uploaded_by, "size": s.size}
            for s in rows if _page_visible(s.hall_hint, s.uploaded_by, user)]


async def load(services: Services, draft_id: int) -> DraftView:
    async with services.store.read() as session:
        row = (await session.execute(
            select(PaperDraft, PaperPage, PaperScan).join(PaperPage, PaperPage.id == PaperDraft.page_id)
            .join(PaperScan, PaperScan.id == PaperPage.scan_id).where(PaperDraft.id == draft_id))).first()
        if row is None:
            raise DraftError("没有这张意见卡草稿", 404)
        halls, windows = await _names(session)
    draft, page, scan = row
    contact = _open_contact(services.cipher, draft.contact_enc)
    values = DraftValues(text=draft.text, rating=draft.rating, reasons=list(draft.reasons),
                         name=contact.get("name", ""), phone=contact.get("phone", ""),
                         preferred=contact.get("preferred", "") or (draft.reply_read or ""),
                         tracking_code=draft.tracking_code or "")
    return DraftView(
        id=draft.id, status=draft.status, origin=draft.origin,
        serial=format_serial(draft.serial) if draft.serial else None, hall=draft.hall_code,
        hall_name=halls.get(draft.hall_code or ""), window=draft.window_code,
        window_name=windows.get((draft.hall_code or "", draft.window_code or "")),
        signature_ok=draft.signature_ok, issued=draft.issued, rating_read=draft.rating_read,
        rating_confidence=draft.rating_confidence, reasons_read=list(draft.reasons_read),
        reasons_confidence=draft.reasons_confidence, reply_read=draft.reply_read, duplicate_of=draft.duplicate_of,
        values=values, case_code=draft.case_code, note=draft.note, page_id=page.id, page_no=page.page_no,
        scan_id=scan.id, file_name=scan.file_name, has_slip_image=draft.image_sha256 is not None,
        uploaded_at=scan.uploaded_at, updated_by=draft.updated_by, text_read=draft.text_read,
        text_confidence=draft.text_confidence, ocr_lines=list(draft.ocr_lines or []), blank=draft.blank,
        blank_reason=draft.blank_reason, void_reason=draft.void_reason, hall_hint=scan.hall_hint,
        uploaded_by=scan.uploaded_by, image_removed=draft.removed_at is not None)


def masked_contact(values: DraftValues) -> dict[str, str]:
    return {"name": mask_name(values.name) if values.name else "", "phone": mask_phone(values.phone)
            if values.phone else ""}


async def neighbours(services: Services, draft_id: int, towns: frozenset[str] | None) -> tuple[int | None, int | None]:
    """The previous and next open drafts in queue order, for keyboard navigation."""
    base = (select(PaperDraft.id).join(PaperPage, PaperPage.id == PaperDraft.page_id)
            .join(PaperScan, PaperScan.id == PaperPage.scan_id).where(PaperDraft.status == "open"))
    if towns is not None:
        base = base.where(_in_towns(towns))
    async with services.store.read() as session:
        previous = (await session.execute(base.where(PaperDraft.id < draft_id).order_by(PaperDraft.id.desc())
                                          .limit(1))).scalar_one_or_none()
        following = (await session.execute(base.where(PaperDraft.id > draft_id).order_by(PaperDraft.id)
                                           .limit(1))).scalar_one_or_none()
    return previous, following


def _editable(draft: PaperDraft) -> None:
    if draft.status in ("confirmed", "discarded"):
        raise DraftError(f"这张意见卡已{STATUS_LABELS[draft.status]}，不能再修改", 409)


async def save(services: Services, draft_id: int, values: DraftValues, *, who: Principal, ip: str | None) -> None:
    """Keep what was typed so far (no validation: half-typed text must never be lost)."""
    sealed = _seal_contact(services.cipher, values)

    def write(session: Session) -> None:
        draft = session.get(PaperDraft, draft_id)
        if draft is None:
            raise DraftError("没有这张意见卡草稿", 404)
        _editable(draft)
        draft.text, draft.rating, draft.reasons = values.text, values.rating, values.reasons
        draft.contact_enc, draft.tracking_code = sealed, values.tracking_code or None
        if values.preferred in ("sms", "phone", "none"):
            draft.reply_read = values.preferred
        draft.updated_at, draft.updated_by = datetime.now(UTC), who.username
        add_audit(session, who, "paper.draft_save", ip=ip, target_type="paper_draft", target_id=draft_id)

    await services.store.run_write(write)


async def confirm(services: Services, draft_id: int, values: DraftValues, *, who: Principal, ip: str | None,
                  accept_unsigned: bool = False, blank_reason: str = "", hall: str | None = None) -> tuple[str, bool]:
    """Ingest the draft as a case; return ``(case_code, duplicate)``.

    A blank slip (no tick, no writing) needs ``blank_reason``; a letter needs its ``hall``."""
    blank_reason = blank_reason.strip()[:500]
    if hall:
        await set_hall(services, draft_id, hall, who=who, ip=ip)
    await save(services, draft_id, values, who=who, ip=ip)
    async with services.store.read() as session:
        row = (await session.execute(
            select(PaperDraft, PaperPage.page_no, PaperScan.sha256, PaperScan.uploaded_at)
            .join(PaperPage, PaperPage.id == PaperDraft.page_id).join(PaperScan, PaperScan.id == PaperPage.scan_id)
            .where(PaperDraft.id == draft_id))).first()
        assert row is not None
        draft, page_no, scan_sha, uploaded_at = row
        image = await get_blob(session, draft.image_sha256) if draft.image_sha256 else None
        if image is None:
            page_image = (await session.execute(select(PaperPage.image_sha256).where(
                PaperPage.id == draft.page_id))).scalar_one_or_none()
            image = await get_blob(session, page_image) if page_image else None
    if draft.signature_ok is False and not accept_unsigned:
        raise DraftError("二维码签名不符（可能是伪造或涂改的意见卡）。"
                         "确认内容属实后勾选“签名不符仍受理”，或作废。", 409)
    if draft.blank and not blank_reason:
        raise DraftError("这是一张空白卡（没有勾选，也没有书写）。确需受理时请写明理由（如：背面有字），"
                         "否则请作废。", 409)
    if draft.hall_code is None:
        if draft.origin == "letter":
            raise DraftError("这封来信还没有确定大厅，请先选择所属大厅", 400)
        raise DraftError("这张意见卡还没有确定大厅，请先在“手工补录编号”中选择大厅", 400)
    trusted = bool(draft.signature_ok) or (draft.origin == "manual" and draft.issued)
    source_ref = source_reference(draft.serial, trusted=trusted, scan_sha256=scan_sha, page_index=page_no - 1,
                                  slot=draft.slot)
    try:
        intake = slip_intake(
            source_ref=source_ref, received_at=uploaded_at, text=values.text, rating=values.rating,
            reasons=values.reasons, hall=draft.hall_code, window=draft.window_code, contact=values.contact(),
            tracking_code=values.tracking_code, image=image.data if image else None,
            image_type=image.media_type if image else "image/jpeg",
            subject="来信" if draft.origin == "letter" else "意见卡",
            extra={"slip_serial": format_serial(draft.serial) if draft.serial else None,
                   "origin": draft.origin, "blank_reason": blank_reason or None,
                   "signature_ok": draft.signature_ok, "draft_id": draft.id, "transcribed_by": who.username,
                   "rating_read": draft.rating_read, "rating_confidence": draft.rating_confidence})
    except IntakeError as exc:
        raise DraftError("内容不完整或有误：" + "；".join(_problem_zh(k, v) for k, v in exc.problems.items()), 400,
                         exc.problems) from None
    try:
        result = await services.ingestor.ingest(intake)
    except IngestError as exc:
        raise DraftError(f"无法受理：{exc}", 400) from None

    def mark(session: Session) -> bool:
        current = session.get(PaperDraft, draft_id)
        assert current is not None
        other = session.execute(select(PaperDraft.id).where(PaperDraft.case_id == result.case_id,
                                                            PaperDraft.id != draft_id).limit(1)).scalar_one_or_none()
        # A duplicate ingest that no other draft owns is this draft's own earlier confirm, interrupted
        # between the ingest and this step: it is confirmed, not a duplicate.
        duplicate = result.duplicate and other is not None
        now = datetime.now(UTC)
        current.status = "duplicate" if duplicate else "confirmed"
        current.case_id, current.case_code = result.case_id, result.case_code
        current.duplicate_of = f"case:{result.case_code}" if duplicate else current.duplicate_of
        current.confirmed_at = current.updated_at = now
        current.updated_by = who.username
        current.blank_reason = blank_reason or None
        ocr_changed = None if current.text_read is None else (
            "".join(current.text_read.split()) != "".join((current.text or "").split()))
        add_audit(session, who, "paper.draft_confirm", ip=ip, target_type="paper_draft", target_id=draft_id,
                  detail={"case": result.case_code, "duplicate": duplicate, "source_ref": source_ref,
                          "blank_reason": blank_reason or None, "ocr_corrected": ocr_changed})
        return duplicate

    duplicate = await services.store.run_write(mark)
    return result.case_code, duplicate


_FIELD_ZH = {"text": "意见内容", "rating": "评价", "reasons": "原因", "contact.phone": "电话", "contact.name": "姓名",
             "contact": "联系方式", "intake": "内容", "tracking_code": "受理编号"}


def _problem_zh(field_name: str, problem: str) -> str:
    if "no text, rating" in problem:
        return "请至少录入意见内容或评价"
    if "reasons are given only" in problem:
        return "只有“不满意”或“非常不满意”才能选择原因"
    if "preferred_channel" in problem:
        return "选择了短信或电话答复，但没有填写电话"
    if field_name.startswith("contact.phone") or "phone" in problem:
        return "电话号码格式不对"
    return f"{_FIELD_ZH.get(field_name, field_name)}：{problem}"


async def discard(services: Services, draft_id: int, reason: str, *, who: Principal, ip: str | None) -> None:
    """Void a draft that is still open (or a duplicate) with a reason; audited, counted on the mailroom page.
    A confirmed draft is a case by now: it is closed through the case's own workflow instead."""
    reason = reason.strip()[:500]
    if not reason:
        raise DraftError("请写明作废原因（如：空白卡、重复扫描、与本县无关）", 400)

    def write(session: Session) -> None:
        draft = session.get(PaperDraft, draft_id)
        if draft is None:
            raise DraftError("没有这张意见卡草稿", 404)
        _editable(draft)
        draft.status, draft.void_reason = "discarded", reason
        draft.updated_at, draft.updated_by = datetime.now(UTC), who.username
        add_audit(session, who, "paper.draft_discard", ip=ip, target_type="paper_draft", target_id=draft_id,
                  detail={"reason": reason})

    await services.store.run_write(write)


async def set_hall(services: Services, draft_id: int, hall: str, *, who: Principal, ip: str | None) -> None:
    """Give a letter (or a slip whose hall is unknown) its hall, as staff pick it."""
    if not who.can_access_town(hall):
        raise DraftError("无权处理其他乡镇的来信", 403)

    def write(session: Session) -> None:
        draft = session.get(PaperDraft, draft_id)
        if draft is None:
            raise DraftError("没有这张意见卡草稿", 404)
        _editable(draft)
        if draft.hall_code == hall:
            return
        if not window_exists(session, hall, None):
            raise DraftError("所选大厅不存在", 400)
        draft.hall_code, draft.window_code = hall, None
        add_audit(session, who, "paper.draft_hall", ip=ip, target_type="paper_draft", target_id=draft_id,
                  detail={"hall": hall})

    await services.store.run_write(write)


async def draft_hall(services: Services, draft_id: int) -> str | None:
    async with services.store.read() as session:
        row = (await session.execute(select(PaperDraft.hall_code).where(PaperDraft.id == draft_id))).first()
    if row is None:
        raise DraftError("没有这张意见卡草稿", 404)
    return row[0]


async def page_info(services: Services, page_id: int) -> dict[str, Any]:
    async with services.store.read() as session:
        row = (await session.execute(
            select(PaperPage, PaperScan).join(PaperScan, PaperScan.id == PaperPage.scan_id)
            .where(PaperPage.id == page_id))).first()
        if row is None:
            raise DraftError("没有这一页扫描件", 404)
        page, scan = row
        drafts = (await session.execute(
            select(PaperDraft.id, PaperDraft.serial, PaperDraft.status, PaperDraft.hall_code)
            .where(PaperDraft.page_id == page_id).order_by(PaperDraft.slot))).all()
    return {"id": page.id, "page_no": page.page_no, "status": page.status, "file_name": scan.file_name,
            "hall_hint": scan.hall_hint, "uploaded_by": scan.uploaded_by, "scan_id": scan.id, "error": page.error,
            "image_sha256": page.image_sha256, "foreign_codes": page.foreign_codes,
            "image_removed": page.removed_at is not None,
            "drafts": [{"id": d.id, "serial": format_serial(d.serial) if d.serial else None, "status": d.status,
                        "hall": d.hall_code} for d in drafts]}


async def identify(services: Services, page_id: int, *, serial_text: str, hall: str | None, window: str | None,
                   who: Principal, ip: str | None) -> int:
    """Make a draft for a slip on ``page_id`` whose code could not be read: by its printed serial, or
    by the hall (and window) staff pick.  Returns the new draft's id."""
    serial = None
    if serial_text.strip():
        try:
            serial = parse_serial(serial_text)
        except SlipCodeError:
            raise DraftError("编号格式不对：请输入意见卡二维码下方印的数字编号", 400) from None
    hall = (hall or "").strip() or None
    window = (window or "").strip() or None
    if serial is None and hall is None:
        raise DraftError("请输入意见卡编号，或选择意见卡所属的大厅", 400)

    def write(session: Session) -> int:
        page = session.get(PaperPage, page_id)
        if page is None:
            raise DraftError("没有这一页扫描件", 404)
        chosen_hall, chosen_window, size, issued = hall, window, None, False
        if serial is not None:
            run = issued_run(session, serial)
            if run is not None:
                issued, size = True, run.size
                if chosen_hall is None:
                    chosen_hall, chosen_window = run.hall_code, run.window_code
                elif chosen_hall != run.hall_code:
                    raise DraftError(f"编号 {format_serial(serial)} 是发给其他大厅（{run.hall_code}）的，请核对", 409)
            elif chosen_hall is None:
                raise DraftError(f"编号 {format_serial(serial)} 没有发放记录，请核对编号，或选择大厅后补录", 404)
        assert chosen_hall is not None
        if not who.can_access_town(chosen_hall):
            raise DraftError("无权处理其他乡镇的意见卡", 403)
        if not window_exists(session, chosen_hall, chosen_window):
            raise DraftError("所选大厅或窗口不存在", 400)
        slot = (session.execute(select(func.max(PaperDraft.slot)).where(PaperDraft.page_id == page_id))
                .scalar_one_or_none())
        duplicate = duplicate_of(session, serial) if serial is not None and issued else None
        now = datetime.now(UTC)
        draft = PaperDraft(
            page_id=page_id, slot=(slot + 1) if slot is not None else 0, origin="manual", serial=serial, size=size,
            hall_code=chosen_hall, window_code=chosen_window, signature_ok=None, issued=issued,
            image_sha256=None, reasons_read=[], status="duplicate" if duplicate else "open", duplicate_of=duplicate,
            text="", reasons=[], created_at=now, updated_at=now, updated_by=who.username,
            note=None if serial is None or issued else "人工录入的编号没有发放记录")
        session.add(draft)
        page.status = "identified" if page.status == "needs_id" else page.status
        session.flush()
        add_audit(session, who, "paper.page_identify", ip=ip, target_type="paper_page", target_id=page_id,
                  detail={"draft": draft.id, "serial": serial, "hall": chosen_hall, "window": chosen_window})
        return draft.id

    return await services.store.run_write(write)


async def page_image(services: Services, page_id: int) -> tuple[bytes, str, str | None, str, str]:
    """The stored page image with what access checks need (hall hint, uploader, hall of its drafts)."""
    info = await page_info(services, page_id)
    if info["image_removed"]:
        raise DraftError(PAGE_IMAGE_REMOVED, 410)
    if not info["image_sha256"]:
        raise DraftError("这一页没有可显示的图像", 404)
    async with services.store.read() as session:
        blob = await get_blob(session, info["image_sha256"])
    assert blob is not None
    hall = next((d["hall"] for d in info["drafts"] if d["hall"]), None) or info["hall_hint"]
    return blob.data, blob.media_type, hall, info["uploaded_by"], info["hall_hint"] or ""


async def slip_image_of(services: Services, draft_id: int) -> tuple[bytes, str] | None:
    async with services.store.read() as session:
        sha = (await session.execute(
            select(PaperDraft.image_sha256).where(PaperDraft.id == draft_id))).scalar_one_or_none()
        blob = await get_blob(session, sha) if sha else None
    return (blob.data, blob.media_type) if blob else None
