"""Background batches on SQLite and PostgreSQL: the upload answers at once, batches queue, a crash
mid-batch resumes without a second draft; OCR text on drafts, blank and voided slips, letters,
and the mailroom without the OCR package."""

from __future__ import annotations

import io
import json
import sys
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from channels.paper import ocr
from gateway.app import create_app
from gateway.core.db.models import Message
from gateway.core.db.models_paper import PaperBatch, PaperDraft, PaperPage
from gateway.core.db.models_staff import AuditEntry
from gateway.core.services import Services
from gateway.paper import batches
from gateway.paper.batches import run_pending
from tests.paper.scans import Degradation, degrade, letter_page, on_a4, rasterize, slip_pdf, tick, write_kai
from tests.paper.test_mailroom import JSON, issued, jpeg, scans_of, tiff, upload
from tests.staff import make_staff, signed_in

# Lines of real feedback from the triage development set (dev-0002, dev-0004, dev-0001), not written for these tests.
TEXT = "宅基地证和户口本对不上 派出所和自然资源所都不管"
LETTER = ["尊敬的领导：", "工作人员态度挺好的就是厕所没纸", "俺爹当兵受伤的待遇 档案找不着 县里省里都问了 好几年了"]
CONTACT = {"name": "张桂兰", "phone": "13905371234"}


def written_scans(slip_codes, dpi: int = 200) -> list[Image.Image]:  # type: ignore[no-untyped-def]
    """Slip 1 ticked 不满意 with Kai writing and contact; the others blank; then a letter."""
    images = rasterize(slip_pdf(slip_codes), dpi)
    pages = [degrade(on_a4([tick(write_kai(images[0], "a5", dpi, TEXT, contact=CONTACT), "a5", "dissatisfied", dpi)],
                           dpi), Degradation(angle=3, jpeg=70))]
    pages += [degrade(on_a4([image], dpi), Degradation(angle=-2, noise=0.01)) for image in images[1:]]
    pages.append(degrade(letter_page(LETTER, dpi), Degradation(angle=1.5)))
    return pages


def tiff200(pages: list[Image.Image]) -> bytes:
    buffer = io.BytesIO()
    pages[0].save(buffer, "TIFF", save_all=True, append_images=pages[1:], dpi=(200, 200), compression="tiff_lzw")
    return buffer.getvalue()


async def _drafts(services: Services, batch_id: int) -> list[PaperDraft]:
    from gateway.core.db.models_paper import PaperScan

    async with services.store.read() as session:
        return list((await session.execute(
            select(PaperDraft).join(PaperPage, PaperPage.id == PaperDraft.page_id)
            .join(PaperScan, PaperScan.id == PaperPage.scan_id).where(PaperScan.batch_id == batch_id)
            .order_by(PaperDraft.id))).scalars())


async def test_upload_answers_at_once_batches_queue_and_a_crash_resumes_without_a_second_draft(
        services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    await make_staff(services, "clerk", ["mailroom"], ["jintun"])
    app = create_app(services=services, run_workers=False)
    slips = await issued(services, 3)
    first = tiff([*scans_of(slips[:2]), scans_of([slips[2]])[0].rotate(180)])
    async with signed_in(app, "clerk") as client:
        response = await upload(client, [("morning.tiff", first)], headers=JSON)
        assert response.status_code == 202
        body = response.json()
        assert body["files"][0]["status"] == "queued" and body["files"][0]["pages_total"] == 3
        page = await client.get(body["url"])
        assert page.status_code == 200 and "排队中" in page.text and 'http-equiv="refresh"' in page.text
        assert '<span id="pages-done">0</span> / 3' in page.text
        assert "后台处理程序没有运行" in page.text  # no worker has ever reported here
        second = (await upload(client, [("noon.jpg", jpeg(scans_of([slips[0]], ratings=["satisfied"])[0]))],
                               headers=JSON)).json()
        progress = (await client.get(second["url"], headers=JSON)).json()["batch"]
        assert progress["status"] == "queued" and progress["ahead"] == 1
        assert await _drafts(services, body["batch"]) == []

        real_store = batches._store_page
        calls = []

        def crash_on_page_two(session, services_, scan_id, prepared):  # type: ignore[no-untyped-def]
            calls.append(prepared.page.index)
            if prepared.page.index == 1:
                raise RuntimeError("power cut")
            return real_store(session, services_, scan_id, prepared)

        monkeypatch.setattr(batches, "_store_page", crash_on_page_two)
        with pytest.raises(RuntimeError, match="power cut"):
            await run_pending(services)
        monkeypatch.setattr(batches, "_store_page", real_store)
        crashed = (await client.get(body["url"], headers=JSON)).json()["batch"]
        assert crashed["status"] == "running" and crashed["pages_done"] == 1 and crashed["drafts"] == 1

        # The crashed batch still has a fresh heartbeat: the next run leaves it and reads the queued one.
        assert await run_pending(services) == {"batches": 1, "pages": 1}
        assert (await client.get(second["url"], headers=JSON)).json()["batch"]["status"] == "done"
        # Once the heartbeat is stale the crashed batch is resumed where it stopped.
        assert await run_pending(services, stale_after=timedelta(0)) == {"batches": 1, "pages": 2}
        done = await client.get(body["url"], headers=JSON)
        progress = done.json()["batch"]
        assert (progress["status"], progress["pages_done"], progress["slips"], progress["drafts"]) == ("done", 3, 3, 3)
        html = await client.get(body["url"])
        assert "已识别完" in html.text and 'http-equiv="refresh"' not in html.text
        assert f"#{body['batch']}" in (await client.get("/mailroom")).text
    drafts = await _drafts(services, body["batch"])
    assert sorted(d.serial for d in drafts) == sorted(s.serial for s in slips)
    async with services.store.read() as session:
        assert (await session.execute(select(func.count()).select_from(PaperDraft))).scalar_one() == 4
        statuses = (await session.execute(select(PaperBatch.status))).scalars().all()
    assert statuses == ["done", "done"]


async def test_ocr_text_blank_and_void_slips_and_a_letter(services: Services) -> None:
    await make_staff(services, "clerk", ["mailroom"], ["jintun"])
    app = create_app(services=services, run_workers=False)
    slips = await issued(services, 3)
    async with signed_in(app, "clerk") as client:
        body = (await upload(client, [("box.tiff", tiff200(written_scans(slips)))], hall="jintun",
                             headers=JSON)).json()
        await run_pending(services)
        result = (await client.get(body["url"], headers=JSON)).json()
        assert (result["batch"]["blank"], result["batch"]["letters"], result["batch"]["drafts"]) == (2, 1, 4)
        written, blank, other_blank, letter = await _drafts(services, body["batch"])

        # The writing opens in the text box, the contact blanks are filled (sealed at rest).
        assert ocr.character_errors(TEXT, written.text) <= 2 and written.text_read == written.text
        assert written.text_confidence is not None and written.ocr_lines and not written.blank
        assert b"13905371234" not in (written.contact_enc or b"")
        page = await client.get(f"/mailroom/drafts/{written.id}")
        assert "已按手写识别填入" in page.text and written.text in page.text and 'id="ocr-lines"' in page.text
        assert "13905371234" in page.text and "张桂兰" in page.text
        # A line the recogniser was unsure of is marked for checking (scores as rapidocr gives them).
        def unsure(session) -> None:  # type: ignore[no-untyped-def]
            draft = session.get(PaperDraft, written.id)
            draft.ocr_lines = [*draft.ocr_lines, ocr.OcrLine("派出所和自然", 0.62).to_dict()]

        await services.store.run_write(unsure)
        page = await client.get(f"/mailroom/drafts/{written.id}")
        assert '<li class="low"><mark>派出所和自然</mark>' in page.text and "1 行把握低" in page.text
        confirmed = await client.post_form(f"/mailroom/drafts/{written.id}", {
            "action": "confirm", "text": TEXT + "，请尽快处理", "rating": "dissatisfied", "phone": "13905371234"},
            headers=JSON)
        assert confirmed.json()["status"] == "confirmed", confirmed.text

        # Blank slips: their own tab, no case without a reason, voided with a reason (audited).
        assert blank.blank and other_blank.blank and blank.text == "" and blank.text_read == ""
        tab = await client.get("/mailroom?status=blank")
        assert blank.serial is not None and f"{blank.serial:08d}" in tab.text and "空白" in tab.text
        refused = await client.post_form(f"/mailroom/drafts/{blank.id}", {"action": "confirm", "rating": "basic"},
                                         headers=JSON)
        assert refused.status_code == 409 and "空白卡" in refused.json()["error"]
        reasoned = await client.post_form(f"/mailroom/drafts/{blank.id}", {
            "action": "confirm", "rating": "basic", "text": "背面写着：大厅很好", "blank_reason": "背面写有意见"},
            headers=JSON)
        assert reasoned.json()["status"] == "confirmed", reasoned.text
        no_reason = await client.post_form(f"/mailroom/drafts/{other_blank.id}", {"action": "void"}, headers=JSON)
        assert no_reason.status_code == 400 and "作废原因" in no_reason.json()["error"]
        voided = await client.post_form(f"/mailroom/drafts/{other_blank.id}",
                                        {"action": "void", "void_reason": "空白卡，无任何内容"}, headers=JSON)
        assert voided.json() == {"status": "discarded"}

        # The letter waits for its hall, then becomes a case like a slip.
        assert letter.origin == "letter" and letter.hall_code is None and letter.serial is None
        assert ocr.character_errors("".join(LETTER), letter.text) <= 4, letter.text
        letter_page_html = (await client.get(f"/mailroom/drafts/{letter.id}")).text
        assert "所属大厅（来信须选择）" in letter_page_html and "不在本系统的发放记录中" not in letter_page_html
        letters = await client.get("/mailroom?status=letters")
        assert f"/mailroom/drafts/{letter.id}" in letters.text
        no_hall = await client.post_form(f"/mailroom/drafts/{letter.id}", {"action": "confirm", "text": letter.text},
                                         headers=JSON)
        assert no_hall.status_code == 400 and "来信还没有确定大厅" in no_hall.json()["error"]
        with_hall = await client.post_form(f"/mailroom/drafts/{letter.id}", {
            "action": "confirm", "text": letter.text, "hall": "jintun"}, headers=JSON)
        assert with_hall.json()["status"] == "confirmed", with_hall.text

        mailroom = await client.get("/mailroom")
        assert '<strong id="blank-count">2</strong>' in mailroom.text
        assert '<strong id="void-count">1</strong>' in mailroom.text
        assert 'id="ocr-cer"' in mailroom.text  # staff corrections measure the OCR
    async with services.store.read() as session:
        audit = (await session.execute(select(AuditEntry).where(
            AuditEntry.action == "paper.draft_discard"))).scalar_one()
        assert audit.target_id == str(other_blank.id) and audit.detail["reason"] == "空白卡，无任何内容"
        confirm = (await session.execute(select(AuditEntry).where(
            AuditEntry.action == "paper.draft_confirm", AuditEntry.target_id == str(blank.id)))).scalar_one()
        assert confirm.detail["blank_reason"] == "背面写有意见"
        kept = await session.get(PaperDraft, written.id)
        assert kept.text_read != kept.text  # the correction is kept beside what OCR read
        subjects = dict((await session.execute(select(Message.source_ref, Message.subject)
                                                .where(Message.channel == "paper"))).all())
    assert sorted(subjects.values()) == sorted(["意见卡", "意见卡", "来信"])


async def test_without_ocr_scanning_works_and_the_mailroom_says_handwriting_is_not_read(
        services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    await make_staff(services, "clerk", ["mailroom"], ["jintun"])
    app = create_app(services=services, run_workers=False)
    slips = await issued(services, 1)
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # the import fails as if not installed
    ocr.reset()
    try:
        async with signed_in(app, "clerk") as client:
            mailroom = await client.get("/mailroom")
            assert 'id="ocr-missing"' in mailroom.text and "手写内容识别不可用" in mailroom.text
            body = (await upload(client, [("one.tiff", tiff200(written_scans(slips)[:1]))], headers=JSON)).json()
            await run_pending(services)
            result = (await client.get(body["url"], headers=JSON)).json()
            [slip] = result["files"][0]["pages"][0]["slips"]
            assert slip["rating"] == "dissatisfied" and slip["text"] == "" and slip["text_confidence"] is None
            assert not slip["blank"]  # the pen strokes are still seen without OCR
            [draft] = await _drafts(services, body["batch"])
            assert draft.text == "" and draft.text_read is None
            page = await client.get(f"/mailroom/drafts/{draft.id}")
            assert "照卡片上的手写内容录入" in page.text
    finally:
        ocr.reset()
    assert json.dumps(result)
