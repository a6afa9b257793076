"""The public page and the hall screen in Chromium: chart text readable on a phone, the screen filled."""

from __future__ import annotations

from playwright.async_api import Browser

from tests.browser import LiveServer
from tests.results.dataset import load

PHONE = {"viewport": {"width": 375, "height": 812}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "zh-CN"}
# Every chart text's size on screen: its CSS size in the SVG's units times the SVG's scale.
RENDERED_SIZES = """() => Array.from(document.querySelectorAll("svg.chart text")).map(t => {
  const svg = t.ownerSVGElement;
  return parseFloat(getComputedStyle(t).fontSize) * svg.getScreenCTM().a;
})"""


async def test_public_chart_labels_are_at_least_12_px_on_a_phone(browser: Browser, live_server: LiveServer) -> None:
    await load(live_server.services)
    context = await browser.new_context(**PHONE)  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(live_server.url + "/public?month=2026-11")
    sizes = await page.evaluate(RENDERED_SIZES)
    assert sizes and min(sizes) >= 12, sorted(sizes)[:5]
    assert await page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    await context.close()


async def test_the_hall_screen_fills_1920_by_1080_without_scrolling(browser: Browser, live_server: LiveServer) -> None:
    await load(live_server.services)
    for width, height in ((1920, 1080), (1366, 768)):
        context = await browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        page = await context.new_page()
        await page.goto(live_server.url + "/screen/jintun")
        main = await page.locator("#screen-main").bounding_box()
        days = await page.locator("ol.day-columns").bounding_box()
        assert main and days
        # The 30 days reach down to the bottom of the screen's main area (it used to stop half way).
        assert main["y"] + main["height"] - (days["y"] + days["height"]) < 60, (width, main, days)
        assert await page.evaluate("document.documentElement.scrollHeight - window.innerHeight") <= 0
        await context.close()
