"""The 12345 page in a real Chromium: sign in, upload the platform's export, read the row problems and
both deadlines, download the answers."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import Browser, expect

from tests.browser import DESKTOP, LiveServer
from tests.phone.orders_samples import csv_bytes
from tests.staff import make_staff


async def test_upload_an_export_and_download_the_answers(browser: Browser, live_server: LiveServer,
                                                         tmp_path: Path) -> None:
    await make_staff(live_server.services, "sun", ["operator"])
    export = tmp_path / "12345工单导出.csv"
    export.write_bytes(csv_bytes("gbk"))
    context = await browser.new_context(**DESKTOP, accept_downloads=True)
    page = await context.new_page()
    await page.goto(live_server.url + "/login?next=/hotline/12345")
    await page.wait_for_function("document.activeElement && document.activeElement.name === 'username'")
    await page.keyboard.type("sun")
    await page.keyboard.press("Tab")
    await page.keyboard.type("correct-horse-42")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    await expect(page.locator("h1")).to_have_text("12345 热线工单")
    await page.set_input_files("input[name=file]", str(export))
    async with page.expect_navigation():
        await page.get_by_role("button", name="导入").click()
    report = page.locator("#import-report")
    await expect(report).to_contain_text("新受理 3 件")
    await expect(report).to_contain_text("12345工单导出.csv:5")
    await expect(report).to_contain_text("诉求内容为空")
    rows = page.locator("table.orders tbody tr")
    await expect(rows).to_have_count(3)
    await expect(rows.first).to_contain_text("JN12345-20261127-0005")
    await expect(page.locator("table.orders")).to_contain_text("2026-12-02 17:00")
    if os.environ.get("HCP_SCREENSHOTS"):
        await page.screenshot(path=os.environ["HCP_SCREENSHOTS"] + "/hotline_12345.png", full_page=True)
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="下载办理结果（CSV，GBK，平台格式）").click()
    download = await download_info.value
    data = Path(await download.path()).read_bytes().decode("gbk")
    assert data.startswith("工单编号,承办单位,办理状态,办理结果") and "JN12345-20261127-0002" in data
    await context.close()
