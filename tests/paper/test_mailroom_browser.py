"""The mailroom in a real headless Chromium: upload a batch, then transcribe and confirm by keyboard."""

from __future__ import annotations

import io
from pathlib import Path

from playwright.async_api import Browser

from channels.paper.codes import sign_slip
from gateway.paper.batches import run_pending
from gateway.paper.slips import allocate
from tests.browser import DESKTOP, LiveServer
from tests.paper.scans import Degradation, degrade, on_a4, rasterize, slip_pdf, tick
from tests.staff import PASSWORD, make_staff


async def test_upload_and_transcribe_by_keyboard(browser: Browser, live_server: LiveServer, tmp_path: Path) -> None:
    services = live_server.services
    await make_staff(services, "clerk", ["mailroom"], ["jintun"])
    run = await allocate(services.store, "jintun", "w01", 2, "a5", by="test")
    key = services.settings.signing_key()
    slips = [sign_slip(key, "a5", "jintun", "w01", s) for s in (run.first_serial, run.first_serial + 1)]
    images = rasterize(slip_pdf(slips), 150)
    pages = [degrade(on_a4([tick(images[0], "a5", "dissatisfied", 150)], 150), Degradation(angle=-5)),
             degrade(on_a4([images[1]], 150), Degradation(angle=178))]
    buffer = io.BytesIO()
    pages[0].save(buffer, "TIFF", save_all=True, append_images=pages[1:], dpi=(150, 150), compression="tiff_lzw")
    batch = tmp_path / "batch.tiff"
    batch.write_bytes(buffer.getvalue())

    context = await browser.new_context(**DESKTOP)
    page = await context.new_page()
    await page.goto(live_server.url + "/mailroom")
    await page.fill("input[name=username]", "clerk")
    await page.fill("input[name=password]", PASSWORD)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert page.url.endswith("/mailroom")
    await page.set_input_files("#files", str(batch))
    async with page.expect_navigation():
        await page.click("#upload-form button[type=submit]")
    # The upload answers at once with the batch's page; the background job reads it meanwhile.
    assert "上传批次" in await page.inner_text("h1") and "排队中" in await page.inner_text("h1")
    assert await page.inner_text("#drafts-made") == "0"
    await run_pending(services)
    await page.reload()
    assert "已识别完" in await page.inner_text("h1")
    assert await page.inner_text("#drafts-made") == "2" and await page.inner_text("#blank-found") == "1"
    assert slips[0].serial_text in await page.inner_text("main")
    await page.screenshot(path=str(tmp_path / "batch.png"), full_page=True)

    await page.goto(live_server.url + "/mailroom")
    await page.keyboard.press("j")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert "/mailroom/drafts/" in page.url
    assert await page.locator("input[name=rating][value=dissatisfied]").is_checked()
    assert await page.evaluate("document.activeElement.id") == "text"
    await page.keyboard.type("窗口人员让我跑了三趟")
    await page.keyboard.press("Escape")
    await page.evaluate("document.activeElement.blur()")
    await page.keyboard.press("1")  # the score, as on the hotline: 1 = 非常不满意
    assert await page.locator("input[name=rating][value=very_dissatisfied]").is_checked()
    image_ok = await page.evaluate("document.getElementById('slip-image').naturalWidth > 500")
    assert image_ok
    await page.screenshot(path=str(tmp_path / "draft.png"), full_page=True)
    async with page.expect_navigation():
        await page.keyboard.press("Control+Enter")
    banner = await page.inner_text(".notice[role=status]")
    assert "已受理为案件" in banner
    assert slips[1].serial_text in await page.inner_text("h1")
    assert "空白" in await page.inner_text("#blank-flag")  # the second slip has no tick and no writing
    await page.screenshot(path=str(tmp_path / "blank.png"), full_page=True)
    await context.close()
