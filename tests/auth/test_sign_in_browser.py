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
    from gateway.auth.roles import Principal
    from gateway.ui.staff_nav import staff_nav

    triage_areas = [item.label for item in staff_nav(Principal(0, "x", "x", frozenset({"triage"}), frozenset()))]
    assert await page.locator("nav.staff-nav a").all_inner_texts() == triage_areas
    assert "分拣复核" in triage_areas and "用户管理" not in triage_areas
    headers = (await page.request.get(live_server.url + "/console")).headers
    assert "script-src 'self'" in headers["content-security-policy"]
    await context.close()
