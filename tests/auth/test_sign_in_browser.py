"""Sign-in in a real headless Chromium, keyboard only."""

from __future__ import annotations

from playwright.async_api import Browser

from tests.browser import DESKTOP, LiveServer
from tests.staff import make_staff


async def test_staff_sign_in_with_the_keyboard_alone(browser: Browser, live_server: LiveServer) -> None:
    await make_staff(live_server.services, "chen", ["triage"])
    context = await browser.new_context(**DESKTOP)
    page = await context.new_page()
    await page.goto(live_server.url + "/console")
    assert "/login" in page.url
    await page.wait_for_function("document.activeElement && document.activeElement.name === 'username'")
    await page.keyboard.type("chen")
    await page.keyboard.press("Tab")
    await page.keyboard.type("correct-horse-42")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert page.url == live_server.url + "/console"
    assert await page.locator("nav.staff-nav a").all_inner_texts() == ["分拣复核", "案件", "我的评价"]
    headers = (await page.request.get(live_server.url + "/console")).headers
    assert "script-src 'self'" in headers["content-security-policy"]
    await context.close()
