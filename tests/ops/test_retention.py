"""Retention: closed cases past the configured time lose their raw originals, attachments, slip
images and personal data (typed numbers in texts too), say so in their timeline, answer 410 for a
removed file, and every figure computed from cases stays the same."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from sqlalchemy import select, update

from channels.intake import Attachment as AttachmentIn
from channels.intake import RawOriginal
from gateway.app import create_app
from gateway.core.cases import show_case
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
from gateway.core.db.models_phone import PhoneCall, ReturnVisit
from gateway.core.services import Services
from gateway.ops.retention import apply_retention
from gateway.results.assessment import read_rules
from gateway.results.figures import Filters, Period
from gateway.results.report import build_workbook
from tests.helpers import make_intake
from tests.results import dataset
from tests.staff import make_staff, signed_in

NOW = datetime(2027, 6, 30, 16, 0, tzinfo=UTC)  # the end of a half year, Shanghai midnight


@pytest.fixture(autouse=True)
def _frozen() -> Iterator[None]:
    """Every test runs at ``NOW`` (the job is also given it): nothing depends on today."""
    with time_machine.travel(NOW, tick=False):
        yield


NOTHING = {"raw_originals": 0, "attachments": 0, "paper_images": 0, "blobs": 0, "contacts": 0, "redactions": 0}


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

    assert removed == {**NOTHING, "raw_originals": 2, "blobs": 1, "contacts": 1}
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

    assert await apply_retention(services, NOW) == NOTHING
    async with services.store.read() as session:
        assert len((await session.execute(select(CaseEvent).where(CaseEvent.kind == "retention"))).all()) == 2


async def test_without_settings_nothing_is_removed(services: Services) -> None:
    await _case(services, "old", b"From: a\r\n\r\nold mail", datetime(2020, 1, 1, tzinfo=UTC))
    assert await apply_retention(services, NOW) == NOTHING
    from gateway.ops.retention import jobs

    assert jobs(services) == []


async def _closed(services: Services, closed_at: datetime | None, **fields: object) -> tuple[int, str]:
    """A case ingested with ``fields`` (see make_intake), closed at ``closed_at`` unless None."""
    result = await services.ingestor.ingest(make_intake(**fields))
    if closed_at is not None:
        async with services.store.write() as session:
            await session.execute(update(Case).where(Case.id == result.case_id).values(
                status="closed", closed_at=closed_at))
    return result.case_id, result.case_code


async def _retention_events(services: Services) -> dict[int, CaseEvent]:
    async with services.store.read() as session:
        return {e.case_id: e for e in (await session.execute(
            select(CaseEvent).where(CaseEvent.kind == "retention"))).scalars()}


PHOTO, RECORDING = b"\xff\xd8\xff photo of the counter", b"RIFF recording of the call"


async def test_attachments_of_expired_cases_go_their_rows_say_so_and_a_download_answers_410(
        services: Services) -> None:
    services.settings.retain_originals_days = 180
    old, old_code = await _closed(
        services, datetime(2026, 6, 1, tzinfo=UTC), source_ref="old", raw=RawOriginal(
            media_type="message/rfc822", content=b"From: a\r\n\r\nold mail"),
        attachments=[AttachmentIn.from_bytes("柜台.jpg", "image/jpeg", PHOTO),
                     AttachmentIn.from_bytes("录音.wav", "audio/wav", RECORDING),
                     AttachmentIn(name="big.mov", media_type="video/quicktime", size=10**9, rejected="too large")])
    live, live_code = await _closed(services, None, source_ref="live", attachments=[
        AttachmentIn.from_bytes("同一段录音.wav", "audio/wav", RECORDING)])
    photo_sha, recording_sha = hashlib.sha256(PHOTO).hexdigest(), hashlib.sha256(RECORDING).hexdigest()

    removed = await apply_retention(services, NOW)

    # The mail and the photo are gone; the recording is still an attachment of the open case.
    assert removed == {**NOTHING, "raw_originals": 1, "attachments": 2, "blobs": 2}
    async with services.store.read() as session:
        rows = {(a.message_id, a.name): a for a in (await session.execute(select(Attachment))).scalars()}
        blobs = set((await session.execute(select(Blob.sha256))).scalars())
    old_rows = {name: a for (_, name), a in rows.items() if name != "同一段录音.wav"}
    assert {name: (a.sha256, a.size, a.media_type, a.removed_at) for name, a in old_rows.items()} == {
        "柜台.jpg": (None, len(PHOTO), "image/jpeg", NOW), "录音.wav": (None, len(RECORDING), "audio/wav", NOW),
        "big.mov": (None, 10**9, "video/quicktime", None)}
    assert photo_sha not in blobs and recording_sha in blobs
    event = (await _retention_events(services))[old]
    assert event.data["removed"] == ["attachment", "raw_original"]
    assert event.data["counts"] == {"raw_original": 1, "attachment": 2}
    assert event.note == "已清除：原件 1 份、附件 2 个"
    assert photo_sha in event.data["files"] and recording_sha in event.data["files"]

    shown = await show_case(services.store, services.cipher, old_code)  # hcp case SHOW --json
    assert [(a["name"], a["sha256"], a["removed_at"]) for a in shown["messages"][0]["attachments"]] == [
        ("柜台.jpg", None, NOW.isoformat()), ("录音.wav", None, NOW.isoformat()), ("big.mov", None, None)]

    await make_staff(services, "chief", ["supervisor"], [])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "chief") as client:
        page = await client.get(f"/cases/{old_code}")
        gone = await client.get(f"/cases/{old_code}/files/{photo_sha}")
        gone_recording = await client.get(f"/cases/{old_code}/files/{recording_sha}")
        kept = await client.get(f"/cases/{live_code}/files/{recording_sha}")
        unknown = await client.get(f"/cases/{old_code}/files/{'0' * 64}")
    assert page.status_code == 200
    assert "柜台.jpg（image/jpeg，" in page.text and page.text.count("附件已按保存期限清除") == 2
    assert page.text.count("原件已按保存期限清除") == 1
    assert f"/files/{photo_sha}" not in page.text
    assert "到期清除原件或个人信息" in page.text and "已清除：原件 1 份、附件 2 个" in page.text
    assert gone.status_code == gone_recording.status_code == 410
    assert "该文件已按保存期限清除" in gone.text
    assert kept.status_code == 200 and kept.content == RECORDING
    assert unknown.status_code == 404
    assert live


async def _blob(session: Any, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    if await session.get(Blob, sha) is None:
        session.add(Blob(sha256=sha, size=len(data), media_type="image/png", data=data, created_at=NOW))
        await session.flush()
    return sha


async def _scan(session: Any, name: str, pages: list[tuple[str, list[tuple[int | None, str]]]]) -> dict[str, Any]:
    """A scanned file whose pages each hold drafts ``(case_id, status)``; every page and crop has an image."""
    scan = PaperScan(sha256=hashlib.sha256(name.encode()).hexdigest(), file_name=name, size=1, status="done",
                     uploaded_by="clerk", uploaded_at=NOW, blob_sha256=await _blob(session, f"file {name}".encode()))
    session.add(scan)
    await session.flush()
    made: dict[str, Any] = {"scan": scan, "pages": [], "drafts": []}
    for number, (status, drafts) in enumerate(pages, start=1):
        page = PaperPage(scan_id=scan.id, page_no=number, status=status, created_at=NOW,
                         image_sha256=await _blob(session, f"page {name} {number}".encode()))
        session.add(page)
        await session.flush()
        made["pages"].append(page)
        for slot, (case_id, draft_status) in enumerate(drafts):
            draft = PaperDraft(page_id=page.id, slot=slot, origin="qr", status=draft_status, case_id=case_id,
                               created_at=NOW, updated_at=NOW,
                               image_sha256=await _blob(session, f"crop {name} {number} {slot}".encode()))
            session.add(draft)
            made["drafts"].append(draft)
    await session.flush()
    return made


async def test_slip_images_pages_and_uploaded_files_of_expired_paper_cases_go_when_nothing_else_needs_them(
        services: Services) -> None:
    services.settings.retain_originals_days = 180
    expired, _ = await _closed(services, datetime(2026, 6, 1, tzinfo=UTC), channel="paper", source_ref="00000001",
                               raw=RawOriginal(media_type="image/png", content=b"crop one.pdf 1 0"))
    live, _ = await _closed(services, None, channel="paper", source_ref="00000002")
    async with services.store.write() as session:
        # one.pdf: page 1 also holds a slip of an open case (kept); page 2 a duplicate and a discarded slip.
        one = await _scan(session, "one.pdf", [("done", [(expired, "confirmed"), (live, "confirmed")]),
                                               ("done", [(expired, "duplicate"), (None, "discarded")])])
        # two.pdf: a slip of the expired case and a blank back side: the whole file goes.
        two = await _scan(session, "two.pdf", [("done", [(expired, "confirmed")]), ("empty", [])])
        # three.pdf: a page still waits for its serial to be typed: that page and the file stay.
        three = await _scan(session, "three.pdf", [("done", [(expired, "confirmed")]), ("needs_id", [])])
        # the raw original of the expired case is the crop of its slip on one.pdf (as confirm stores it)
        ids = {key: [p.id for p in made["pages"]] for key, made in (("one", one), ("two", two), ("three", three))}
        drafts = [d.id for d in one["drafts"] + two["drafts"] + three["drafts"]]
        scans = [one["scan"].id, two["scan"].id, three["scan"].id]

    removed = await apply_retention(services, NOW)

    # crops of the four slips of the expired case, one.pdf p2, two.pdf p1, three.pdf p1 (two.pdf p2 goes
    # with its file but belongs to no case); blobs: 4 crops (one is also the raw original), 4 pages, 1 file
    assert removed == {**NOTHING, "raw_originals": 1, "paper_images": 7, "blobs": 9}
    async with services.store.read() as session:
        pages = {p.id: p for p in (await session.execute(select(PaperPage))).scalars()}
        slips = {d.id: d for d in (await session.execute(select(PaperDraft))).scalars()}
        files = {s.id: s for s in (await session.execute(select(PaperScan))).scalars()}
        blobs = set((await session.execute(select(Blob.sha256))).scalars())
    assert [(pages[i].image_sha256 is None, pages[i].removed_at) for i in ids["one"] + ids["two"] + ids["three"]] == [
        (False, None), (True, NOW), (True, NOW), (True, NOW), (True, NOW), (False, None)]
    assert [(slips[i].image_sha256 is None, slips[i].removed_at) for i in drafts] == [
        (True, NOW), (False, None), (True, NOW), (False, None), (True, NOW), (True, NOW)]
    assert [(files[i].blob_sha256 is None, files[i].removed_at) for i in scans] == [
        (False, None), (True, NOW), (False, None)]
    kept = [pages[ids["one"][0]].image_sha256, slips[drafts[1]].image_sha256, slips[drafts[3]].image_sha256,
            files[scans[0]].blob_sha256, files[scans[2]].blob_sha256, pages[ids["three"][1]].image_sha256]
    assert all(sha in blobs for sha in kept)
    assert (await _retention_events(services))[expired].note == "已清除：原件 1 份、纸质意见卡扫描图像 7 张"
    assert await apply_retention(services, NOW) == NOTHING

    await make_staff(services, "chief", ["supervisor"], [])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "chief") as client:
        page_gone = await client.get(f"/mailroom/pages/{ids['one'][1]}/image")
        page_kept = await client.get(f"/mailroom/pages/{ids['one'][0]}/image")
        slip_gone = await client.get(f"/mailroom/drafts/{drafts[0]}/image")
        page_view = await client.get(f"/mailroom/pages/{ids['one'][1]}")
        slip_view = await client.get(f"/mailroom/drafts/{drafts[0]}")
    assert page_gone.status_code == 410 and "这一页的扫描图像已按保存期限清除" in page_gone.text
    assert page_kept.status_code == 200
    assert slip_gone.status_code == 410 and "意见卡扫描图像已按保存期限清除" in slip_gone.text
    assert "这一页的扫描图像已按保存期限清除" in page_view.text
    assert slip_view.status_code == 200 and "意见卡扫描图像已按保存期限清除" in slip_view.text
    assert f"/mailroom/drafts/{drafts[0]}/image" not in slip_view.text


TYPED = ("我2026年11月28日办理（受理编号 JX20261128-0007），多交了380元。请回电 13812345678 或 0537-6851234，"
         "身份证 37082919900101123X。")
TYPED_AFTER = ("我2026年11月28日办理（受理编号 JX20261128-0007），多交了380元。请回电 〔已清除〕 或 〔已清除〕，"
               "身份证 〔已清除〕。")


async def test_personal_numbers_typed_into_texts_of_expired_cases_are_redacted_once(services: Services) -> None:
    services.settings.retain_personal_days = 365
    old, _ = await _closed(services, datetime(2026, 6, 1, tzinfo=UTC), source_ref="old", text=TYPED,
                           subject="请发到 wang.xm@163.com", contact={"phone": "13812345678", "wechat": "o-open-id"})
    recent, _ = await _closed(services, datetime(2027, 6, 1, tzinfo=UTC), source_ref="recent", text=TYPED)
    async with services.store.write() as session:
        session.add(Message(case_id=old, direction="out", channel="web", source_ref="reply-old", at=NOW,
                            author="test", text="已回电 138 1234 5678，问题已解决", extra={}))
        session.add(OutboxMessage(case_id=old, channel="sms", kind="reply", body="请拨打 0537-6851234 咨询",
                                  status="sent", next_attempt_at=NOW, created_at=NOW,
                                  recipient_enc=services.cipher.seal("13812345678")))
        session.add(CaseEvent(case_id=old, at=NOW, actor="wang", kind="contact", note="已打 13812345678 联系"))
        session.add(TriageCorrection(case_id=old, text=TYPED, new_label="complaint", actor="li", at=NOW))
        session.add(ReturnVisit(case_id=old, purpose="rectified", at=NOW, who="wang", reached=True,
                                note="改打家里电话 0537-6851234", created_at=NOW))
        session.add(PhoneCall(source="twilio", call_id="CA1", caller_enc=services.cipher.seal("13812345678"),
                              caller_hash="h", started_at=NOW, outcome="answered", case_id=old, imported_at=NOW))
        scan = await _scan(session, "slip.pdf", [("done", [(old, "confirmed")])])
        draft = scan["drafts"][0]
        draft.text, draft.text_read = "电话13812345678", "电话1381234567B"
        draft.ocr_lines = [{"text": "电话13812345678", "low": False}, {"text": "态度不好", "low": True}]
        draft.contact_enc = services.cipher.seal('{"phone": "13812345678"}')
        draft_id = draft.id

    removed = await apply_retention(services, NOW)

    # the case's text 3 and subject 1, the first message's the same 4, the reply 1, the SMS 1, the slip's
    # text 1 and OCR line 1 (what OCR misread, 1381234567B, is not a number and stays), the notes 2, the
    # triage correction's copy of the text 3
    assert removed == {**NOTHING, "contacts": 1, "redactions": 17}
    async with services.store.read() as session:
        cases = {c.id: c for c in (await session.execute(select(Case))).scalars()}
        texts = [m.text for m in (await session.execute(
            select(Message).where(Message.case_id == old).order_by(Message.id))).scalars()]
        outbox = (await session.execute(select(OutboxMessage))).scalar_one()
        slip = await session.get(PaperDraft, draft_id)
        contact = (await session.execute(select(Contact).where(Contact.case_id == old))).scalar_one()
        notes = set((await session.execute(select(CaseEvent.note).where(CaseEvent.kind == "contact"))).scalars())
        visit_note = (await session.execute(select(ReturnVisit.note))).scalar_one()
        call = (await session.execute(select(PhoneCall))).scalar_one()
        correction = (await session.execute(select(TriageCorrection.text))).scalar_one()
    assert (cases[old].text, cases[old].subject) == (TYPED_AFTER, "请发到 〔已清除〕")
    assert texts == [TYPED_AFTER, "已回电 〔已清除〕，问题已解决"]
    assert (outbox.body, outbox.recipient_enc) == ("请拨打 〔已清除〕 咨询", None)
    assert slip is not None
    assert (slip.text, slip.text_read, slip.contact_enc) == ("电话〔已清除〕", "电话1381234567B", None)
    assert slip.ocr_lines == [{"text": "电话〔已清除〕", "low": False}, {"text": "态度不好", "low": True}]
    assert (contact.phone_enc, contact.wechat_enc, contact.wechat_hash) == (None, None, None)
    assert notes == {"已打 〔已清除〕 联系"} and visit_note == "改打家里电话 〔已清除〕"
    assert (call.caller_enc, call.caller_hash) == (None, None) and correction == TYPED_AFTER
    assert cases[old].personal_removed_at == NOW and cases[recent].personal_removed_at is None
    assert cases[recent].text == TYPED
    event = (await _retention_events(services))[old]
    assert event.note == "已清除：联系方式、正文中的个人信息 17 处"

    assert await apply_retention(services, NOW) == NOTHING
    assert len(await _retention_events(services)) == 1


async def test_every_figure_of_the_report_workbook_is_the_same_after_retention(services: Services) -> None:
    """The hand-made cases of the results tests (contacts, a reply with a phone number), a year after."""
    with time_machine.travel(datetime(2028, 1, 10, 2, 0, tzinfo=UTC), tick=False):
        await dataset.load(services)
        codes = [code async for code in _closed_codes(services)]
        assert len(codes) >= 4  # c1-c3, c10 closed at intake, c4 after its return visit
        async with services.store.write() as session:  # something of every kind to remove
            case_id = (await session.execute(select(Case.id).where(Case.code == codes[0]))).scalar_one()
            message = (await session.execute(select(Message.id).where(Message.case_id == case_id))).scalars().first()
            sha = await _blob(session, b"a photo")
            session.add(Attachment(message_id=message, name="p.png", media_type="image/png", size=7, sha256=sha))
        filters, rules = Filters(Period(date(2026, 11, 1), date(2026, 11, 30))), read_rules()
        before = _cells((await build_workbook(services, filters, rules))[0])
        services.settings.retain_originals_days = services.settings.retain_personal_days = 30
        # the cases closed at intake were closed "now"; the job runs a year later
        removed = await apply_retention(services, datetime(2029, 1, 10, 2, 0, tzinfo=UTC))
        assert removed["attachments"] == 1 and removed["contacts"] >= 1 and removed["redactions"] >= 1
        after = _cells((await build_workbook(services, filters, rules))[0])
    assert after == before


async def _closed_codes(services: Services) -> Any:
    async with services.store.read() as session:
        closed = select(Case.code).where(Case.status == "closed").order_by(Case.id)
        for code in (await session.execute(closed)).scalars():
            yield code


def _cells(workbook: Any) -> dict[str, list[list[Any]]]:
    return {sheet.title: [[cell.value for cell in row] for row in sheet.iter_rows()] for sheet in workbook.worksheets}
