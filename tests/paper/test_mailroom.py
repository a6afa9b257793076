"""The mailroom over HTTP on SQLite and PostgreSQL: upload, drafts, duplicates, bad signatures,
manual ids, confirming into cases, bad input, town scope and staff-only images."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from sqlalchemy import func, select

from channels.paper.codes import SlipCode, sign_slip
from gateway.app import create_app
from gateway.core.db.models import Case, Message
from gateway.core.db.models_paper import PaperDraft, PaperPage, PaperScan
from gateway.core.services import Services
from gateway.paper.batches import run_pending
from gateway.paper.slips import allocate
from tests.paper.scans import Degradation, degrade, on_a4, rasterize, slip_pdf, tick
from tests.staff import anonymous_client, make_staff, signed_in

JSON = {"accept": "application/json"}


def tiff(pages: list[Image.Image]) -> bytes:
    buffer = io.BytesIO()
    pages[0].save(buffer, "TIFF", save_all=True, append_images=pages[1:], dpi=(150, 150), compression="tiff_lzw")
    return buffer.getvalue()


def jpeg(page: Image.Image) -> bytes:
    buffer = io.BytesIO()
    page.save(buffer, "JPEG", quality=60, dpi=(150, 150))
    return buffer.getvalue()


async def issued(services: Services, count: int, hall: str = "jintun", window: str = "w01") -> list[SlipCode]:
    run = await allocate(services.store, hall, window, count, "a5", by="test")
    key = services.settings.signing_key()
    return [sign_slip(key, "a5", hall, window, serial) for serial in range(run.first_serial, run.last_serial + 1)]


def scans_of(slip_codes: list[SlipCode], *, ratings: list[str | None] | None = None) -> list[Image.Image]:
    """Scans of the slips, each ticked (基本满意 unless ``ratings`` says otherwise; ``None``: left blank)."""
    images = rasterize(slip_pdf(slip_codes), 150)
    pages = []
    for index, image in enumerate(images):
        rating = ratings[index] if ratings and index < len(ratings) else "basic"
        if rating:
            image = tick(image, "a5", rating, 150)
        pages.append(degrade(on_a4([image], 150), Degradation(angle=4 if index % 2 else -3)))
    return pages


async def upload(client, files: list[tuple[str, bytes]], hall: str | None = None, **kwargs):  # type: ignore[no-untyped-def]
    data = {"csrf_token": client.csrf}
    if hall:
        data["hall"] = hall
    return await client.post("/mailroom/upload", data=data, files=[("files", (n, d)) for n, d in files], **kwargs)


async def uploaded(client, services: Services, files: list[tuple[str, bytes]], hall: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    """Upload, let the background job read the batch, and return the batch page's JSON."""
    response = await upload(client, files, hall, headers=JSON)
    assert response.status_code in (200, 202), response.text
    body = response.json()
    if body["batch"] is not None:
        assert response.status_code == 202 and body["url"] == f"/mailroom/batches/{body['batch']}"
        await run_pending(services)
        page = await client.get(body["url"], headers=JSON)
        assert page.status_code == 200, page.text
        body = page.json()
    return body


async def test_upload_makes_drafts_and_a_repeat_upload_makes_none(services: Services) -> None:
    await make_staff(services, "clerk", ["mailroom"], ["jintun"])
    app = create_app(services=services, run_workers=False)
    slips = await issued(services, 2)
    blank = Image.new("L", (1240, 1754), 255)
    batch = tiff([*scans_of(slips, ratings=["dissatisfied", "very_satisfied"]), blank])
    async with signed_in(app, "clerk") as client:
        body = await uploaded(client, services, [("batch.tiff", batch)])
        assert body["batch"]["status"] == "done" and body["batch"]["pages_done"] == 3
        assert (body["batch"]["slips"], body["batch"]["drafts"]) == (2, 2)
        [result] = body["files"]
        assert result["status"] == "done"
        pages = result["pages"]
        assert [p["status"] for p in pages] == ["decoded", "decoded", "needs_id"]
        found = [s for p in pages for s in p["slips"]]
        assert [s["serial"] for s in found] == [slips[0].serial_text, slips[1].serial_text]
        assert [s["rating"] for s in found] == ["dissatisfied", "very_satisfied"]
        assert all(s["signature_ok"] and s["issued"] and not s["duplicate"] for s in found)

        again = await upload(client, [("renamed.tiff", batch)], headers=JSON)
        assert again.json()["files"][0]["status"] == "repeat"
        # The page (not JSON) names the hall and window as the queue does.
        shown = await upload(client, [("renamed.tiff", batch)])
        assert "金屯镇 / " in shown.text and "jintun" not in shown.text
        # who uploaded is named as staff know each other (the display name), not by the account
        from sqlalchemy import update

        from gateway.core.db.models_staff import User

        async with services.store.write() as session:
            await session.execute(update(User).where(User.username == "clerk").values(display_name="王小红"))
        queue = (await client.get("/mailroom")).text
        assert "<td>王小红</td>" in queue and "<td>clerk</td>" not in queue
        batch_page = (await client.get(f"/mailroom/batches/{body['batch']['id']}")).text
        assert "王小红 上传于" in batch_page
        queue = await client.get("/mailroom")
        assert queue.status_code == 200
        assert slips[0].serial_text in queue.text and "待补录编号" in queue.text
    async with services.store.read() as session:
        assert (await session.execute(select(func.count()).select_from(PaperDraft))).scalar_one() == 2
        assert (await session.execute(select(func.count()).select_from(PaperScan))).scalar_one() == 1
        assert (await session.execute(select(func.count()).select_from(PaperPage))).scalar_one() == 3


async def test_confirm_makes_one_case_and_the_same_slip_scanned_again_is_a_duplicate(services: Services) -> None:
    await make_staff(services, "clerk", ["mailroom"], ["jintun"])
    app = create_app(services=services, run_workers=False)
    [slip] = await issued(services, 1)
    first_scan = scans_of([slip], ratings=["very_dissatisfied"])[0]
    async with signed_in(app, "clerk") as client:
        first = await uploaded(client, services, [("a.jpg", jpeg(first_scan))])
        draft_id = first["files"][0]["pages"][0]["slips"][0]["draft_id"]
        page = await client.get(f"/mailroom/drafts/{draft_id}")
        assert page.status_code == 200 and "非常不满意" in page.text and slip.serial_text in page.text
        # no SMS provider configured: the reply choice offers the ways that work, and no 短信
        assert 'name="preferred" value="phone"' in page.text and 'value="sms"' not in page.text
        image = await client.get(f"/mailroom/drafts/{draft_id}/image")
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
        assert "no-store" in image.headers["cache-control"]

        saved = await client.post_form(f"/mailroom/drafts/{draft_id}", {
            "action": "save", "text": "窗口人员一直玩手机 #immediate", "rating": "very_dissatisfied",
            "reasons": "attitude", "phone": "13812345678", "name": "王小明", "preferred": "sms"})
        assert saved.status_code == 303
        async with services.store.read() as session:
            draft = await session.get(PaperDraft, draft_id)
            assert draft.text.startswith("窗口人员") and b"13812345678" not in (draft.contact_enc or b"")

        confirmed = await client.post_form(f"/mailroom/drafts/{draft_id}", {
            "action": "confirm", "text": "窗口人员一直玩手机 #immediate", "rating": "very_dissatisfied",
            "reasons": "attitude", "phone": "13812345678", "name": "王小明", "preferred": "sms"}, headers=JSON)
        assert confirmed.status_code == 200, confirmed.text
        body = confirmed.json()
        assert body["status"] == "confirmed"
        case_code = body["case"]

        # The same physical slip scanned again (different bytes): a duplicate draft, and no second case.
        rescan = scans_of([slip], ratings=["very_dissatisfied"])[0].rotate(180)
        second = await uploaded(client, services, [("b.jpg", jpeg(rescan))])
        [dup] = second["files"][0]["pages"][0]["slips"]
        assert dup["duplicate"] and dup["duplicate_of"] == f"case:{case_code}" and dup["status"] == "duplicate"
        again = await client.post_form(f"/mailroom/drafts/{dup['draft_id']}", {
            "action": "confirm", "text": "重复", "rating": "very_dissatisfied"}, headers=JSON)
        assert again.json() == {"status": "duplicate", "case": case_code}
        listed = await client.get("/mailroom?status=duplicate")
        assert slip.serial_text in listed.text
    async with services.store.read() as session:
        messages = (await session.execute(select(Message).where(Message.channel == "paper"))).scalars().all()
        assert [m.source_ref for m in messages] == [slip.serial_text]
        case = (await session.execute(select(Case).where(Case.code == case_code))).scalar_one()
        assert case.channel == "paper" and case.rating == "very_dissatisfied" and case.reasons == ["attitude"]
        assert case.category == "immediate" and messages[0].raw_sha256 is not None


async def test_bad_signature_is_flagged_and_needs_an_explicit_decision(services: Services) -> None:
    await make_staff(services, "clerk", ["mailroom"], ["jintun"])
    app = create_app(services=services, run_workers=False)
    [genuine] = await issued(services, 1)
    forged = sign_slip(b"somebody else's key", "a5", "jintun", "w01", genuine.serial)
    async with signed_in(app, "clerk") as client:
        result = await uploaded(client, services, [("f.jpg", jpeg(scans_of([forged])[0]))])
        [slip] = result["files"][0]["pages"][0]["slips"]
        assert slip["signature_ok"] is False and slip["status"] == "open"
        flagged = await client.get("/mailroom?status=flagged")
        assert genuine.serial_text in flagged.text and "签名不符" in flagged.text
        refused = await client.post_form(f"/mailroom/drafts/{slip['draft_id']}", {
            "action": "confirm", "text": "内容", "rating": "satisfied"}, headers=JSON)
        assert refused.status_code == 409 and "签名不符" in refused.json()["error"]
        accepted = await client.post_form(f"/mailroom/drafts/{slip['draft_id']}", {
            "action": "confirm", "text": "内容", "rating": "satisfied", "accept_unsigned": "1"}, headers=JSON)
        assert accepted.json()["status"] == "confirmed"
    async with services.store.read() as session:
        refs = (await session.execute(select(Message.source_ref).where(Message.channel == "paper"))).scalars().all()
    # A forged code never takes the genuine slip's serial.
    assert len(refs) == 1 and refs[0].startswith("scan:") and refs[0] != genuine.serial_text


async def test_manual_id_path(services: Services) -> None:
    await make_staff(services, "clerk", ["mailroom"], ["jintun"])
    app = create_app(services=services, run_workers=False)
    [slip] = await issued(services, 1)
    smudged = scans_of([slip])[0]
    # Cover the code as a coffee stain would: no code can be read on this page.
    smudged.paste(0, (0, 0, smudged.width, 260))
    async with signed_in(app, "clerk") as client:
        result = await uploaded(client, services, [("s.jpg", jpeg(smudged))], "jintun")
        [page] = result["files"][0]["pages"]
        assert page["status"] == "needs_id" and page["slips"] == []
        listing = await client.get("/mailroom")
        assert f"/mailroom/pages/{page['page_id']}" in listing.text
        form = await client.get(f"/mailroom/pages/{page['page_id']}")
        assert form.status_code == 200 and "意见卡编号" in form.text
        assert (await client.get(f"/mailroom/pages/{page['page_id']}/image")).status_code == 200

        unknown = await client.post_form(f"/mailroom/pages/{page['page_id']}/identify", {"serial": "99999999"},
                                         headers=JSON)
        assert unknown.status_code == 404 and "没有发放记录" in unknown.json()["error"]
        bad = await client.post_form(f"/mailroom/pages/{page['page_id']}/identify", {"serial": "abc"}, headers=JSON)
        assert bad.status_code == 400
        made = await client.post_form(f"/mailroom/pages/{page['page_id']}/identify",
                                      {"serial": str(slip.serial)}, headers=JSON)
        assert made.status_code == 200
        draft_id = made.json()["draft"]
        confirmed = await client.post_form(f"/mailroom/drafts/{draft_id}", {
            "action": "confirm", "text": "字迹模糊，大意是排队太久", "rating": "dissatisfied",
            "reasons": "efficiency"}, headers=JSON)
        assert confirmed.json()["status"] == "confirmed"
        # Staff may also pick only the hall when the serial is unreadable too.
        by_hall = await client.post_form(f"/mailroom/pages/{page['page_id']}/identify",
                                         {"hall": "jintun", "window": "w02"}, headers=JSON)
        assert by_hall.status_code == 200
        other_town = await client.post_form(f"/mailroom/pages/{page['page_id']}/identify", {"hall": "mandong"},
                                            headers=JSON)
        assert other_town.status_code == 403
    async with services.store.read() as session:
        refs = (await session.execute(select(Message.source_ref).where(Message.channel == "paper"))).scalars().all()
        assert refs == [slip.serial_text]
        drafts = (await session.execute(select(PaperDraft).order_by(PaperDraft.id))).scalars().all()
        assert [(d.origin, d.hall_code, d.window_code, d.signature_ok) for d in drafts] == [
            ("manual", "jintun", "w01", None), ("manual", "jintun", "w02", None)]


async def test_bad_files_get_clear_errors_and_the_rest_of_the_batch_is_kept(services: Services) -> None:
    await make_staff(services, "county", ["mailroom"], [])
    services.settings.max_blob_bytes = 2_000_000
    app = create_app(services=services, run_workers=False)
    [slip] = await issued(services, 1)
    good = jpeg(scans_of([slip])[0])
    bomb = io.BytesIO()
    Image.new("1", (30000, 30000), 1).save(bomb, "PNG")
    async with signed_in(app, "county") as client:
        response = await upload(client, [
            ("notes.txt", "不是扫描件".encode()), ("broken.pdf", b"%PDF-1.4\nbroken"), ("bomb.png", bomb.getvalue()),
            ("huge.tif", b"II*\x00" + b"\0" * 2_100_000), ("good.jpg", good)], headers=JSON)
        # The headers are checked at once: the bad files are refused in the upload's answer.
        assert response.status_code == 202
        files = {f["name"]: f for f in response.json()["files"]}
        assert files["good.jpg"]["status"] == "queued"
        await run_pending(services)
        batch = (await client.get(response.json()["url"], headers=JSON)).json()
        files |= {f["name"]: f for f in batch["files"]}
        assert files["notes.txt"]["error_kind"] == "unsupported" and "不支持的文件类型" in files["notes.txt"]["error"]
        assert files["broken.pdf"]["error_kind"] == "corrupt" and "文件已损坏" in files["broken.pdf"]["error"]
        assert files["bomb.png"]["error_kind"] == "bomb"
        assert files["huge.tif"]["error_kind"] == "too_large" and "文件过大" in files["huge.tif"]["error"]
        assert files["good.jpg"]["status"] == "done"
        assert files["good.jpg"]["pages"][0]["slips"][0]["serial"] == slip.serial_text

        alone = await upload(client, [("notes.txt", b"plain text")])
        assert alone.status_code == 415 and "不支持的文件类型" in alone.text
        corrupt = await upload(client, [("x.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 50)], headers=JSON)
        assert corrupt.status_code == 422 and "文件已损坏" in corrupt.json()["files"][0]["error"]
        nothing = await client.post("/mailroom/upload", data={"csrf_token": client.csrf}, headers=JSON)
        assert nothing.status_code == 400
        unknown_hall = await upload(client, [("good.jpg", good)], hall="x" * 40, headers=JSON)
        assert unknown_hall.status_code == 400 and "所选大厅不存在" in unknown_hall.json()["error"]
        page = await client.get("/mailroom")
        assert "已拒收" in page.text and "broken.pdf" in page.text
    async with services.store.read() as session:
        statuses = dict((await session.execute(select(PaperScan.file_name, PaperScan.status))).all())
    assert statuses["good.jpg"] == "done"
    assert statuses["broken.pdf"] == statuses["bomb.png"] == "rejected"


async def test_town_scope_and_staff_only_images(services: Services) -> None:
    await make_staff(services, "jintun-clerk", ["mailroom"], ["jintun"])
    await make_staff(services, "mandong-clerk", ["mailroom"], ["mandong"])
    await make_staff(services, "boss", ["supervisor"], [])
    await make_staff(services, "handler", ["handler"], ["jintun"])
    app = create_app(services=services, run_workers=False)
    [slip] = await issued(services, 1)
    async with signed_in(app, "jintun-clerk") as client:
        result = await uploaded(client, services, [("a.jpg", jpeg(scans_of([slip])[0]))])
        draft_id = result["files"][0]["pages"][0]["slips"][0]["draft_id"]
        page_id = result["files"][0]["pages"][0]["page_id"]
        wrong_hall = await upload(client, [("b.jpg", b"\xff\xd8\xff")], hall="mandong", headers=JSON)
        assert wrong_hall.status_code == 403
    async with signed_in(app, "mandong-clerk") as client:
        assert slip.serial_text not in (await client.get("/mailroom")).text
        assert (await client.get(f"/mailroom/drafts/{draft_id}", headers=JSON)).status_code == 403
        assert (await client.get(f"/mailroom/drafts/{draft_id}/image", headers=JSON)).status_code == 403
        assert (await client.get(f"/mailroom/pages/{page_id}/image", headers=JSON)).status_code == 403
        confirm = await client.post_form(f"/mailroom/drafts/{draft_id}", {"action": "confirm", "text": "x"},
                                         headers=JSON)
        assert confirm.status_code == 403
    async with signed_in(app, "boss") as client:
        assert slip.serial_text in (await client.get("/mailroom")).text
        assert (await client.get(f"/mailroom/drafts/{draft_id}/image")).status_code == 200
    async with signed_in(app, "handler") as client:
        assert (await client.get("/mailroom", headers=JSON)).status_code == 403
    async with anonymous_client(app) as client:
        assert (await client.get(f"/mailroom/drafts/{draft_id}/image", headers=JSON)).status_code == 401


async def test_discard_needs_a_reason_and_validation_errors_keep_the_typed_text(services: Services) -> None:
    await make_staff(services, "clerk", ["mailroom"], ["jintun"])
    app = create_app(services=services, run_workers=False)
    [slip] = await issued(services, 1)
    async with signed_in(app, "clerk") as client:
        result = await uploaded(client, services, [("a.jpg", jpeg(scans_of([slip])[0]))])
        draft_id = result["files"][0]["pages"][0]["slips"][0]["draft_id"]
        invalid = await client.post_form(f"/mailroom/drafts/{draft_id}", {
            "action": "confirm", "text": "排队两个小时", "rating": "satisfied", "reasons": "efficiency"})
        assert invalid.status_code == 400
        assert "只有“不满意”或“非常不满意”才能选择原因" in invalid.text and "排队两个小时" in invalid.text
        odd = await client.post_form(f"/mailroom/drafts/{draft_id}", {"action": "save", "rating": "x" * 40,
                                                                      "preferred": "fax"}, headers=JSON)
        assert odd.json() == {"status": "saved"}
        async with services.store.read() as session:
            assert (await session.get(PaperDraft, draft_id)).rating is None
        no_reason = await client.post_form(f"/mailroom/drafts/{draft_id}", {"action": "discard"}, headers=JSON)
        assert no_reason.status_code == 400
        done = await client.post_form(f"/mailroom/drafts/{draft_id}", {"action": "discard",
                                                                       "discard_reason": "空白卡"}, headers=JSON)
        assert done.json() == {"status": "discarded"}
        late = await client.post_form(f"/mailroom/drafts/{draft_id}", {"action": "save", "text": "x"}, headers=JSON)
        assert late.status_code == 409


@pytest.mark.parametrize("count", [3])
async def test_serials_never_repeat_across_print_runs(services: Services, count: int) -> None:
    import asyncio

    runs = await asyncio.gather(*(allocate(services.store, "jintun", None, 10, "a6", by="t") for _ in range(count)))
    serials = [s for run in runs for s in range(run.first_serial, run.last_serial + 1)]
    assert len(serials) == len(set(serials)) == 10 * count
    later = await allocate(services.store, "mandong", "w01", 5, "a5", by="t")
    assert later.first_serial == max(serials) + 1
    assert json.dumps(later.first_serial)
