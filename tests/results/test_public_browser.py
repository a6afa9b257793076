"""The public page and the hall screen in Chromium: chart text readable on a phone, the screen filled."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

import time_machine
from playwright.async_api import Browser

from gateway.core.answered import mark_answer_delivered
from gateway.core.db.models import Message
from gateway.core.services import Services
from gateway.core.workflow import apply_transition
from tests.browser import LiveServer
from tests.helpers import local, make_intake
from tests.results.dataset import load

# The 30-day chart's visible day labels, left to right, with their horizontal extent on screen.
DAY_LABEL_BOXES = """() => Array.from(document.querySelectorAll("ol.day-columns .d"))
  .filter(d => d.textContent.trim()).map(d => {
    const box = d.getBoundingClientRect();
    return {text: d.textContent.trim(), left: box.left, right: box.right};
  })"""
# Text that must stay on one line, whatever the markup: "整改答复 2026-11-24" to the end of each shown
# entry's line, and the words beside today's numbers.  Returns those that span two lines.
UNBROKEN = """() => {
  const lines = range => new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
  const broken = [];
  for (const meta of document.querySelectorAll('.latest-list article:not([hidden]) .meta')) {
    const walker = document.createTreeWalker(meta, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const at = node.data.indexOf('整改答复');
      if (at < 0) continue;
      const range = document.createRange();
      range.setStart(node, at);
      range.setEndAfter(meta.lastChild);
      if (lines(range) !== 1) broken.push(meta.textContent);
    }
  }
  for (const small of document.querySelectorAll('.today .big small')) {
    const range = document.createRange();
    range.selectNodeContents(small);
    if (lines(range) !== 1) broken.push(small.textContent);
  }
  // the words beside the QR code: "扫码评价" and the line under it ("扫码评" / "价" was seen in 大字 mode)
  for (const caption of document.querySelectorAll('figure.scan figcaption')) {
    const walker = document.createTreeWalker(caption, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.data.trim() || !node.parentElement.offsetParent) continue;  // blank, or not shown
      const range = document.createRange();
      range.selectNodeContents(node);
      if (lines(range) !== 1) broken.push(node.data);
    }
  }
  return broken;
}"""
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
    # the town table is wider than a phone: it scrolls sideways, and the page says so
    wide = await page.evaluate("(() => { const d = document.querySelector('.table-scroll');"
                               " return d.scrollWidth > d.clientWidth; })()")
    assert wide and await page.locator(".scroll-hint").is_visible()
    await context.close()


# The day the overlapping labels were seen: the 30 days end on 11/27, with the hand-made cases in them.
SCREEN_DAY = datetime(2026, 11, 27, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


async def _more_rectified(services: Services, count: int) -> None:
    """Rectified cases with long public answers: more than the screen's list can hold."""
    for n in range(count):
        at = local(2026, 11, 20 + n % 5, 9, n)
        result = await services.ingestor.ingest(make_intake(
            source_ref=f"screen-more-{n}", received_at=at, text="跑了好几趟 #time_limited", rating="不满意",
            reasons=["repeat_trips"], hall="jintun", window="w01"))
        async with services.store.write() as session:
            for step in ("start_verification", "verify_valid", "rectify", "reply"):
                await apply_transition(session, result.case_id, step, actor="test", note="说明", now=at)
            await session.execute(mark_answer_delivered(result.case_id, at))
            session.add(Message(case_id=result.case_id, direction="out", channel="web", source_ref=f"more-{n}",
                                at=at, author="test", public=True, extra={},
                                text="您好，经核实，已优化受理流程，取消重复提交的材料，并在高峰时段增开窗口。" * 2))


@time_machine.travel(SCREEN_DAY)  # ticking: the live server and the browser need time to pass
async def test_the_hall_screen_fills_1920_by_1080_without_scrolling(browser: Browser, live_server: LiveServer) -> None:
    await load(live_server.services)
    await _more_rectified(live_server.services, 6)
    live_server.services.settings.public_url = "https://hcp.example.cn"
    live_server.services.settings._public_url_set = True  # as if HCP_PUBLIC_URL had been set: the QR code shows
    for width, height, big in ((1920, 1080, False), (1366, 768, False), (1920, 1080, True), (1366, 768, True)):
        context = await browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        page = await context.new_page()
        await page.goto(live_server.url + "/screen/jintun" + ("?big=1" if big else ""))
        main = await page.locator("#screen-main").bounding_box()
        days = await page.locator("ol.day-columns").bounding_box()
        assert main and days
        # The 30 days reach down to the bottom of the screen's main area (it used to stop half way).
        assert main["y"] + main["height"] - (days["y"] + days["height"]) < 60, (width, main, days)
        assert await page.evaluate("document.documentElement.scrollHeight - window.innerHeight") <= 0
        # No two day labels touch ("11/23" and "11/27" used to overlap at the right end at 1366).
        labels = await page.evaluate(DAY_LABEL_BOXES)
        assert len(labels) >= 5, labels
        # ... and none is cut off at the chart's edges ("10/30" lost its "1" at 1366).
        assert days["x"] - 0.5 <= labels[0]["left"] and labels[-1]["right"] <= days["x"] + days["width"] + 0.5, \
            (width, days, labels[0], labels[-1])
        for left, right in pairwise(labels):
            assert left["right"] <= right["left"], (width, left, right)
        # The rectified list shows whole entries only: none cut off mid-line at its bottom edge.
        cut = await page.evaluate("""() => {
            const list = document.querySelector('.latest-list'), edge = list.getBoundingClientRect().bottom;
            return [...list.querySelectorAll('article')].filter(a => !a.hidden)
                .filter(a => a.getBoundingClientRect().bottom > edge + 1).length; }""")
        shown = await page.locator(".latest-list article:not([hidden])").count()
        assert cut == 0 and shown >= 1, (width, cut, shown)
        # No date or label breaks inside itself ("整改答复 2026-" / "12-07", "好" / "评率" were seen).
        broken = await page.evaluate(UNBROKEN)
        assert broken == [], (width, big, broken)
        # The QR code, named for screen readers, and no web address printed beside it.
        scan = page.locator("figure.scan")
        assert await scan.is_visible() and await page.locator("svg.screen-qr[aria-label]").count() == 1
        assert "http" not in await scan.inner_text() and "example" not in await scan.inner_text(), width
        # ... and its words are whole: not cut at the column's edge ("评价本大厅的" was seen)
        clipped = await page.evaluate("""() => [...document.querySelectorAll('figure.scan figcaption')]
            .filter(c => c.scrollWidth > c.clientWidth + 1
                      || c.getBoundingClientRect().right > c.closest('section').getBoundingClientRect().right + 1)
            .map(c => c.textContent)""")
        assert clipped == [], (width, big, clipped)
        await context.close()
