"""axe-core finds no WCAG 2.0/2.1 A or AA violation on any page a citizen reaches, at phone and desktop size.

Pages: the 找茬窗口 form (empty, with the reasons open, with errors with and without JavaScript), the
receipt, ``/status`` (form, wrong code, result), the evaluation link ``/e/…`` (and its error),
``/public`` and ``/screen/…`` with the hand-made cases of tests/results/dataset.py, and ``/login``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Browser, Page

from gateway.api.clients import add_client
from tests.a11y.axe import violations
from tests.api.helpers import ApiClientDriver, matter
from tests.browser import LiveServer
from tests.results.dataset import load
from tests.web.test_browser import form_url

SIZES = {"phone": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
                   "has_touch": True, "locale": "zh-CN"},
         "desktop": {"viewport": {"width": 1366, "height": 768}, "locale": "zh-CN"}}
# axe is injected as a script tag, which the app's CSP (script-src 'self') rightly refuses.
AXE_CONTEXT = {"bypass_csp": True}


async def audit(page: Page, name: str, report: dict[str, list[str]]) -> None:
    await page.wait_for_load_state("load")
    found = await violations(page)
    if found:
        report[name] = found


async def evaluation_path(server: LiveServer) -> str:
    issued = await add_client(server.services.store, server.services.cipher, "queue-jintun", "金屯镇叫号系统")
    async with httpx.AsyncClient(base_url=server.url) as client:
        api = ApiClientDriver(client, issued.client, issued.key_id, issued.secret)
        finished = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        response = await api.post("/api/v1/matters", matter("A11Y1", finished_at=finished))
    assert response.status_code in (200, 201), response.text
    return "/e/" + response.json()["evaluation_link"].rsplit("/e/", 1)[1]


@pytest.mark.parametrize("size", sorted(SIZES))
async def test_no_axe_violation_on_any_citizen_page(browser: Browser, live_server: LiveServer, size: str) -> None:
    report: dict[str, list[str]] = {}
    await load(live_server.services)
    evaluate = await evaluation_path(live_server)
    context = await browser.new_context(**SIZES[size], **AXE_CONTEXT)  # type: ignore[arg-type]
    page = await context.new_page()

    await page.goto(form_url(live_server))
    await audit(page, "form", report)
    await page.get_by_text("不满意", exact=True).click()
    await page.locator("#name").fill("王五")
    await audit(page, "form, reasons open", report)
    async with page.expect_navigation():
        await page.get_by_role("button", name="提交评价").click()
    assert await page.locator("#errors").count() == 1
    await audit(page, "form with errors (JavaScript on)", report)
    await page.get_by_text("材料要求多").click()
    await page.locator("#name").fill("")
    async with page.expect_navigation():
        await page.get_by_role("button", name="提交评价").click()
    assert await page.locator("#tracking-code").count() == 1
    await audit(page, "receipt", report)

    await page.goto(live_server.url + "/status")
    await audit(page, "/status", report)
    await page.locator("#code").fill("JX20261201-0001")
    await page.locator("#secret").fill("000000")
    async with page.expect_navigation():
        await page.get_by_role("button", name="查询").click()
    await audit(page, "/status wrong code", report)

    await page.goto(live_server.url + evaluate)
    await audit(page, "/e/…", report)
    async with page.expect_navigation():
        await page.locator("button[type=submit]").first.click()
    await audit(page, "/e/… with an error", report)

    await page.goto(live_server.url + "/public")
    await audit(page, "/public", report)
    await page.goto(live_server.url + "/screen/jintun")
    await audit(page, "/screen", report)
    await page.goto(live_server.url + "/login")
    await audit(page, "/login", report)
    await context.close()

    nojs = await browser.new_context(**SIZES[size], java_script_enabled=False)  # type: ignore[arg-type]
    page = await nojs.new_page()
    await page.goto(form_url(live_server, "macun", "w02"))
    await page.get_by_text("不满意", exact=True).click()
    await page.locator("#phone").fill("1381234")
    async with page.expect_navigation():
        await page.get_by_role("button", name="提交评价").click()
    assert await page.locator("#errors").count() == 1
    # axe needs script: audit the server-rendered error page in a JavaScript context, same HTML.
    html = await page.content()
    await nojs.close()
    context = await browser.new_context(**SIZES[size], **AXE_CONTEXT)  # type: ignore[arg-type]
    page = await context.new_page()
    await page.route("**/nojs-errors", lambda route: route.fulfill(body=html, content_type="text/html"))
    await page.goto(live_server.url + "/nojs-errors")
    await audit(page, "form with errors (JavaScript off)", report)
    await context.close()

    assert report == {}, "\n".join(f"{name}: {line}" for name, lines in report.items() for line in lines)


FIELD_WIRING = """() => [...document.querySelectorAll('[aria-invalid=true]')].map(el => {
  const ids = (el.getAttribute('aria-describedby') || '').split(/\\s+/).filter(Boolean);
  const messages = ids.map(id => document.getElementById(id)).filter(Boolean).map(m => m.textContent.trim());
  const box = el.matches('[type=checkbox], [type=radio]') ? el.closest('.fz-choice')
      : el.matches('input, select, textarea') ? el : el.querySelector('.fz-choice');
  const border = box ? getComputedStyle(box).borderTopColor : null;
  return {name: el.name || el.id, messages, border};
})"""
RED = "rgb(180, 35, 24)"


async def test_errors_are_tied_to_their_fields_and_announced(browser: Browser, live_server: LiveServer) -> None:
    for javascript in (True, False):
        context = await browser.new_context(**SIZES["phone"], java_script_enabled=javascript)  # type: ignore[arg-type]
        page = await context.new_page()
        await page.goto(form_url(live_server))
        await page.get_by_text("非常不满意", exact=True).click()
        await page.locator("#name").fill("王五")
        await page.locator("#phone").fill("1381234")
        async with page.expect_navigation():
            await page.get_by_role("button", name="提交评价").click()
        summary = await page.locator("#errors li").all_inner_texts()
        assert len(summary) == 3, summary  # reasons, phone, consent (name and phone need the consent box)
        assert (await page.title()).startswith("有 3 处需要修改"), await page.title()
        assert await page.evaluate("document.activeElement.id") == "errors", ("focus on the summary", javascript)
        wired = {w["name"]: w for w in await page.evaluate(FIELD_WIRING)}
        assert set(wired) == {"q-reason", "phone", "consent"}, wired
        for name, w in wired.items():
            assert w["messages"] and w["messages"][0] in summary, (name, w)
            assert w["border"] == RED, (name, w, "a visible red border")
        assert "privacy" in (await page.locator("input[name=consent]").get_attribute("aria-describedby") or "")
        # The phone's message sits between its label and its box.
        order = await page.evaluate("""() => ['label[for=phone]', '#e-phone', '#phone'].map(
            s => document.querySelector(s).getBoundingClientRect().top)""")
        assert order == sorted(order), order
        await context.close()


async def test_the_wrong_code_notice_is_focused_and_in_the_title(browser: Browser, live_server: LiveServer) -> None:
    context = await browser.new_context(**SIZES["phone"], java_script_enabled=False)  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(live_server.url + "/status")
    await page.locator("#code").fill("JX20261201-0001")
    await page.locator("#secret").fill("0000")
    async with page.expect_navigation():
        await page.get_by_role("button", name="查询").click()
    assert (await page.title()).startswith("受理编号或 4 位数字不对"), await page.title()
    assert await page.evaluate("document.activeElement.id") == "notice"
    await context.close()


# Sideways scroll, text under 18 px (own text of visible elements, footer included) and tap targets
# under 44 px; a scroll region's own overflow is allowed, the page's is not.
SIZES_AUDIT = """() => {
  const small = [], tiny = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const box = el.getBoundingClientRect();
    if (!own || box.width === 0 || el.closest('svg, option, select, [hidden], title')) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < 17.5) small.push(`${el.tagName} ${el.textContent.trim().slice(0, 15)} ${size}`);
  }
  for (const el of document.querySelectorAll('a, button, select, textarea, input:not([type=hidden])')) {
    const target = el.closest('label.fz-choice') || el;
    const box = target.getBoundingClientRect();
    const what = target.textContent.trim().slice(0, 15) || el.name;
    if (box.width && (box.width < 44 || box.height < 44)) tiny.push(
      `${el.tagName} ${what} ${Math.round(box.width)}x${Math.round(box.height)}`);
  }
  return {small, tiny, overflow: document.documentElement.scrollWidth - window.innerWidth};
}"""


@pytest.mark.parametrize("width", [320])
async def test_no_sideways_scroll_big_text_and_targets_at_320(browser: Browser, live_server: LiveServer,
                                                              width: int) -> None:
    await load(live_server.services)
    context = await browser.new_context(viewport={"width": width, "height": 640}, is_mobile=True, has_touch=True,
                                        device_scale_factor=2, locale="zh-CN")
    page = await context.new_page()
    report = {}
    for path in (form_url(live_server), live_server.url + "/status", live_server.url + "/public",
                 live_server.url + "/screen/jintun", live_server.url + "/login"):
        await page.goto(path)
        found = await page.evaluate(SIZES_AUDIT)
        if found["small"] or found["tiny"] or found["overflow"] > 0:
            report[path.replace(live_server.url, "")] = found
    await context.close()
    assert report == {}, report


FOCUS_RING = """() => {
  const lum = (c) => {
    const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => {
      v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const el = document.activeElement;
  if (el === document.body) return null;
  const ringed = el.closest('.fz-choice') || el;
  const style = getComputedStyle(ringed);
  const bg = el.closest('header') ? 'rgb(11, 92, 173)' : 'rgb(255, 255, 255)';
  const [a, b] = [lum(style.outlineColor), lum(bg)];
  return {what: (el.name || el.textContent.trim()).slice(0, 12), card: ringed !== el, style: style.outlineStyle,
          width: parseFloat(style.outlineWidth), contrast: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)};
}"""


async def test_every_control_has_a_visible_focus_ring(browser: Browser, live_server: LiveServer) -> None:
    """Tab through the whole form by keyboard: every stop shows a ring >= 2 px at >= 3:1; radios and
    checkboxes ring their whole card."""
    context = await browser.new_context(**SIZES["desktop"])  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(form_url(live_server))
    await page.get_by_text("不满意", exact=True).click()
    await page.evaluate("document.activeElement.blur()")
    await page.goto(form_url(live_server))  # the draft keeps 不满意: the reasons are open
    stops, weak = [], []
    for _ in range(40):
        await page.keyboard.press("Tab")
        ring = await page.evaluate(FOCUS_RING)
        if ring is None:  # past the last control
            break
        stops.append(ring)
        if ring["style"] == "none" or ring["width"] < 2 or ring["contrast"] < 3:
            weak.append(ring)
    await context.close()
    assert len(stops) >= 15 and any(s["card"] for s in stops), stops
    assert weak == [], weak


async def test_the_counter_speaks_at_thresholds_only(browser: Browser, live_server: LiveServer) -> None:
    context = await browser.new_context(**SIZES["phone"])  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(form_url(live_server))
    text = page.locator("#text")
    maximum = int(await text.get_attribute("maxlength") or 0)
    live = page.locator("#text-count-live")
    assert await page.locator("#text-count").get_attribute("aria-live") is None
    assert await live.get_attribute("aria-live") == "polite"
    await text.press_sequentially("窗口人员")
    assert "已写 4 字" in await page.locator("#text-count").inner_text()
    assert await live.inner_text() == "", "nothing spoken while far from the limit"
    await text.fill("字" * (maximum - 100))
    assert await live.inner_text() == "还可以写 100 字"
    await text.press_sequentially("再")
    assert await live.inner_text() == "还可以写 100 字", "not re-announced on the next keystroke"
    await text.fill("字" * maximum)
    assert await live.inner_text() == f"已达到 {maximum} 字上限"
    await context.close()


@pytest.mark.parametrize("path", ["/public?month=2026-11", "/screen/jintun"])
async def test_the_large_text_button_on_public_and_screen(browser: Browser, live_server: LiveServer,
                                                          path: str) -> None:
    for javascript in (True, False):
        context = await browser.new_context(**SIZES["phone"], java_script_enabled=javascript)  # type: ignore[arg-type]
        page = await context.new_page()
        await page.goto(live_server.url + path)
        assert await page.locator("script[src$='form.js']").count() == 0
        root = "parseFloat(getComputedStyle(document.documentElement).fontSize)"
        before = await page.evaluate(root)
        toggle = page.get_by_role("button", name="大字")
        assert await toggle.get_attribute("aria-pressed") == "false"
        async with page.expect_navigation():  # these pages have no script: the button reloads with ?big=1
            await toggle.click()
        assert "month=2026-11" in page.url or "month" not in path, "the month is kept"
        assert await page.get_by_role("button", name="大字").get_attribute("aria-pressed") == "true"
        assert await page.evaluate(root) >= before * 1.25
        assert await page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        await page.goto(live_server.url + "/status")
        assert await page.locator("main.big").count() == 1, "the choice follows to the citizen pages"
        await context.close()
