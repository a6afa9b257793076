"""axe on the pages the usability walk changed: ``/admin/users`` refusing a new account (messages
beside the fields, the form kept), the error pages, and the calendar banner of each kind."""

from __future__ import annotations

from playwright.async_api import Browser

from tests.a11y.axe import violations
from tests.a11y.test_citizen_pages import AXE_CONTEXT, SIZES
from tests.browser import LiveServer
from tests.console.test_console_browser import _sign_in
from tests.staff import make_staff


async def test_no_axe_violation_on_the_refused_account_form_and_the_error_pages(browser: Browser,
                                                                              live_server: LiveServer) -> None:
    services = live_server.services
    await make_staff(services, "root", ["admin"])
    await make_staff(services, "chief", ["supervisor"], [])
    report: dict[str, list[str]] = {}
    context = await browser.new_context(**SIZES["desktop"], **AXE_CONTEXT)
    page = await context.new_page()
    await _sign_in(page, live_server, "root")
    await page.goto(live_server.url + "/admin/users")
    form = page.locator("form.user-add")
    await form.locator('input[name="username"]').fill("lisi")
    await form.locator('input[name="display_name"]').fill("李四")
    await form.locator('input[name="password"]').fill("typed-secret-71")
    await form.locator('input[name="roles"][value="handler"]').check()
    async with page.expect_navigation():
        await form.locator('button[type="submit"]').click()
    error = page.locator("#add-towns-error")
    assert "至少要选择一个乡镇" in await error.inner_text()
    assert await form.locator('input[name="username"]').input_value() == "lisi"
    assert await form.locator('input[name="password"]').input_value() == ""
    report["/admin/users refused"] = await violations(page)
    response = await page.goto(live_server.url + "/no-such-page")
    assert response is not None and response.status == 404
    report["404"] = await violations(page)
    await context.close()
    context = await browser.new_context(**SIZES["desktop"], **AXE_CONTEXT)
    page = await context.new_page()
    await _sign_in(page, live_server, "chief")
    await page.goto(live_server.url + "/supervise")
    report["/supervise"] = await violations(page)
    await context.close()
    assert not {name: found for name, found in report.items() if found}, report


async def test_no_axe_violation_on_the_pages_of_the_third_walk(browser: Browser, live_server: LiveServer) -> None:
    """The handler's start page with its work counts, the case list's work list (待办 beside the
    statuses), and the hotline's form with name suggestions and its 待回电、回访 list."""
    services = live_server.services
    await make_staff(services, "handler", ["handler"], ["jintun"])
    await make_staff(services, "clerk", ["operator"])
    report: dict[str, list[str]] = {}
    for user, paths in (("handler", ("/console", "/cases?status=to_verify", "/cases?status=to_visit")),
                        ("clerk", ("/console", "/hotline"))):
        context = await browser.new_context(**SIZES["desktop"], **AXE_CONTEXT)
        page = await context.new_page()
        await _sign_in(page, live_server, user)
        for path in paths:
            response = await page.goto(live_server.url + path)
            assert response is not None and response.status == 200, path
            report[f"{user} {path}"] = await violations(page)
        await context.close()
    assert not {name: found for name, found in report.items() if found}, report
