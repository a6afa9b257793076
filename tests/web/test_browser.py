"""The 找茬窗口 in a real headless Chromium at a phone's size, with JavaScript on and off."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page
from sqlalchemy import select

from channels.web.links import window_path
from gateway.core.db.models import Case, Message
from tests.browser import PHONE, LiveServer

# For every visible element that holds text of its own: font size, and the contrast of its colour with
# the first opaque background behind it (WCAG relative luminance).  Also every control's tap target.
AUDIT = """() => {
  const lum = (c) => {
    const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => {
      v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const opaque = (c) => { const m = c.match(/[\\d.]+/g); return m && (m.length < 4 || Number(m[3]) === 1); };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const bg = getComputedStyle(e).backgroundColor;
      if (opaque(bg) && !bg.startsWith('rgba(0, 0, 0, 0)')) return bg;
    }
    return 'rgb(255, 255, 255)';
  };
  const texts = [];
  for (const el of document.querySelectorAll('main *, header *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const box = el.getBoundingClientRect();
    if (!own || box.width === 0 || box.height === 0) continue;
    const style = getComputedStyle(el);
    const [a, b] = [lum(style.color), lum(background(el))];
    texts.push({text: el.textContent.trim().slice(0, 20), size: parseFloat(style.fontSize),
                contrast: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)});
  }
  const targets = [];
  for (const el of document.querySelectorAll('main a, header a, button, select, textarea, input:not([type=hidden])')) {
    const target = el.closest('label.fz-choice') || el;
    const box = target.getBoundingClientRect();
    if (box.width === 0) continue;
    targets.push({what: target.textContent.trim().slice(0, 20) || target.name, width: box.width, height: box.height});
  }
  return {texts, targets, overflow: document.documentElement.scrollWidth - window.innerWidth,
          main: parseFloat(getComputedStyle(document.querySelector('main')).fontSize)};
}"""


def form_url(server: LiveServer, hall: str = "jintun", window: str = "w01") -> str:
    return server.url + window_path(server.services.settings.signing_key(), hall, window)


async def phone_page(browser: Browser, **options: object) -> Page:
    context = await browser.new_context(**PHONE, **options)  # type: ignore[arg-type]
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.problems = problems  # type: ignore[attr-defined]
    return page


async def test_reasons_follow_the_rating_then_submit_show_the_code_and_look_it_up(
        browser: Browser, live_server: LiveServer) -> None:
    page = await phone_page(browser)
    weight = 0

    async def count_bytes(response) -> None:  # type: ignore[no-untyped-def]
        nonlocal weight
        weight += len(await response.body())

    page.on("response", count_bytes)
    await page.goto(form_url(live_server))
    await page.wait_for_load_state("networkidle")
    assert weight <= 100 * 1024, f"page weight {weight} bytes"
    page.remove_listener("response", count_bytes)
    reasons = page.locator("#q-reason")
    assert not await reasons.is_visible()
    await page.get_by_text("不满意", exact=True).tap()
    assert await reasons.is_visible()
    await page.get_by_text("满意", exact=True).tap()
    assert not await reasons.is_visible()
    await page.get_by_text("非常不满意", exact=True).tap()
    assert await reasons.is_visible()
    assert not await page.get_by_text("仅在选择“不满意”或“非常不满意”时填写").is_visible()
    await page.get_by_text("服务态度不好").tap()
    await page.get_by_text("多次跑动").tap()
    await page.locator("#text").fill("窗口人员一直玩手机 #immediate")
    assert "已写 20 字" in await page.locator("#text-count").inner_text()
    async with page.expect_navigation():
        await page.get_by_role("button", name="提交评价").tap()
    assert "/f/ok/" in page.url
    code = await page.locator("#tracking-code").inner_text()
    assert re.fullmatch(r"JX\d{8}-\d{4}", code)
    code_size = await page.locator("#tracking-code").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert code_size >= 28, "the tracking code is in large type (about 1.6 times the body text)"
    one_line = "e => e.getBoundingClientRect().height < 2 * parseFloat(getComputedStyle(e).fontSize)"
    assert await page.locator("#tracking-code").evaluate(one_line), "the code fits on one line of a phone"
    assert "立整立改" in await page.locator("#deadline").inner_text()
    pin = await page.locator("#pin").inner_text()
    async with live_server.services.store.read() as session:
        case = (await session.execute(select(Case).where(Case.code == code))).scalar_one()
    assert case.rating == "very_dissatisfied" and case.reasons == ["attitude", "repeat_trips"]

    async with page.expect_navigation():
        await page.get_by_role("link", name="查询办理进度").tap()
    assert await page.locator("#code").input_value() == code
    await page.locator("#secret").fill(pin)
    async with page.expect_navigation():
        await page.get_by_role("button", name="查询").tap()
    assert await page.locator("#tracking-code").inner_text() == code
    assert await page.locator("#state").inner_text() == "已受理，正在分派"
    assert page.problems == []  # type: ignore[attr-defined]  (no script errors, no CSP violations)
    await page.context.close()


async def test_the_form_works_with_javascript_off(browser: Browser, live_server: LiveServer) -> None:
    page = await phone_page(browser, java_script_enabled=False)
    await page.goto(form_url(live_server, "macun", "w02"))
    assert await page.locator("#q-reason").is_visible()
    assert await page.get_by_text("仅在选择“不满意”或“非常不满意”时填写").is_visible()
    await page.get_by_text("不满意", exact=True).click()
    await page.locator("#phone").fill("13812345678")
    async with page.expect_navigation():
        await page.get_by_role("button", name="提交评价").click()
    assert "还有 2 处需要修改" in await page.locator("#errors").inner_text()
    assert await page.locator("#phone").input_value() == "13812345678"
    assert await page.locator("input[name=rating][value=dissatisfied]").is_checked()
    await page.get_by_text("材料要求多").click()
    await page.get_by_text("我同意把上面的姓名、电话用于核实和答复本次评价").click()
    async with page.expect_navigation():
        await page.get_by_role("button", name="提交评价").click()
    code = await page.locator("#tracking-code").inner_text()
    assert "工作人员将打电话到 138****5678" in await page.locator("#reply").inner_text()
    assert await page.locator("#pin").count() == 0
    async with live_server.services.store.read() as session:
        case = (await session.execute(select(Case).where(Case.code == code))).scalar_one()
        messages = (await session.execute(select(Message))).scalars().all()
    assert case.reasons == ["materials"] and case.reply_channel == "phone" and len(messages) == 1

    await page.goto(live_server.url + "/status")
    await page.locator("#code").fill(code)
    await page.locator("#secret").fill("5678")
    async with page.expect_navigation():
        await page.get_by_role("button", name="查询").click()
    assert await page.locator("#tracking-code").inner_text() == code
    await page.context.close()


async def test_large_type_big_targets_and_enough_contrast(browser: Browser, live_server: LiveServer) -> None:
    page = await phone_page(browser)
    await page.goto(form_url(live_server))
    await page.get_by_text("不满意", exact=True).tap()  # the reason options are on screen too
    for mode in ("standard", "big"):
        audit = await page.evaluate(AUDIT)
        assert len(audit["texts"]) > 40 and len(audit["targets"]) > 20, "the audit saw the whole form"
        small = [t for t in audit["texts"] if t["size"] < 18]
        faint = [t for t in audit["texts"] if t["contrast"] < 4.5]
        tiny = [t for t in audit["targets"] if t["height"] < 44 or t["width"] < 44]
        assert not small, (mode, small)
        assert not faint, (mode, faint)
        assert not tiny, (mode, tiny)
        assert audit["overflow"] <= 0, (mode, "no sideways scrolling on a phone")
        if mode == "standard":
            standard = audit["main"]
            await page.locator("#text").fill("写了一半的话")
            toggle = page.get_by_role("button", name="大字")
            assert await toggle.get_attribute("aria-pressed") == "false"
            await toggle.tap()
            assert await page.locator("main.big").count() == 1
            assert await toggle.get_attribute("aria-pressed") == "true", "the label stays; the state is pressed"
    assert audit["main"] >= standard * 1.25
    assert await page.locator("#text").input_value() == "写了一半的话", "the toggle does not reload the page"
    assert "hcp_big=1" in await page.evaluate("document.cookie")
    await page.goto(live_server.url + "/status")
    assert await page.locator("main.big").count() == 1, "the choice follows to the next page"
    await page.context.close()


async def test_a_reload_or_a_lost_connection_keeps_the_draft(browser: Browser, live_server: LiveServer) -> None:
    page = await phone_page(browser)
    await page.goto(form_url(live_server))
    await page.get_by_text("非常不满意", exact=True).tap()
    await page.get_by_text("办理时间长").tap()
    await page.locator("#text").fill("等了两个小时")
    await page.locator("#name").fill("不保存的姓名")
    await page.reload()
    assert await page.locator("#text").input_value() == "等了两个小时"
    assert await page.locator("input[name=reason][value=efficiency]").is_checked()
    assert await page.locator("#q-reason").is_visible()
    assert await page.locator("#name").input_value() == "", "name and phone are never kept in the browser"
    async with page.expect_navigation():
        await page.get_by_role("button", name="提交评价").tap()
    await page.goto(form_url(live_server))
    assert await page.locator("#text").input_value() == "", "a submitted draft is cleared"
    await page.context.close()
