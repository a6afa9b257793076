"""The console in a real headless Chromium: review the triage queue with the keyboard, then take
one case from intake to closed on the case page."""

from __future__ import annotations

from playwright.async_api import Browser, Page
from sqlalchemy import select

from gateway.core.db.models import Case
from tests.browser import DESKTOP, LiveServer
from tests.helpers import make_intake
from tests.staff import PASSWORD, make_staff


async def _sign_in(page: Page, server: LiveServer, username: str) -> None:
    await page.goto(server.url + "/login")
    await page.wait_for_function("document.activeElement && document.activeElement.name === 'username'")
    await page.keyboard.type(username)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")


async def _status(server: LiveServer, code: str) -> tuple[str, str | None]:
    async with server.services.store.read() as session:
        case = (await session.execute(select(Case).where(Case.code == code))).scalar_one()
    return case.status, case.category


async def test_the_triage_team_reviews_the_queue_with_the_keyboard(browser: Browser, live_server: LiveServer) -> None:
    services = live_server.services
    first = (await services.ingestor.ingest(make_intake(source_ref="b1", text="大厅太脏 #immediate #review"))).case_code
    second = (await services.ingestor.ingest(make_intake(source_ref="b2", text="跑三趟 #time_limited #review"))
              ).case_code
    await make_staff(services, "triager", ["triage"])
    context = await browser.new_context(**DESKTOP)
    page = await context.new_page()
    await _sign_in(page, live_server, "triager")
    await page.goto(live_server.url + "/triage")
    assert await page.locator("#queue .item").count() == 2
    assert await page.locator("#queue .item.selected").get_attribute("data-code") == first
    async with page.expect_navigation():
        await page.keyboard.press("a")  # accept the first item as classified
    assert await _status(live_server, first) == ("triaged", "immediate")
    assert await page.locator("#queue .item.selected").get_attribute("data-code") == second
    async with page.expect_navigation():
        await page.keyboard.press("3")  # correct the second to 协调整改
    assert await _status(live_server, second) == ("triaged", "coordinated")
    assert "队列已清空" in await page.locator("#queue").inner_text()
    await context.close()


async def test_a_case_is_taken_from_intake_to_closed_on_the_case_page(browser: Browser,
                                                                     live_server: LiveServer) -> None:
    services = live_server.services
    code = (await services.ingestor.ingest(make_intake(
        source_ref="b3", text="窗口工作人员玩手机 #immediate",
        contact={"name": "李四", "phone": "13900001111", "real_name": True, "preferred_channel": "sms"}))).case_code
    await make_staff(services, "handler", ["handler"], ["jintun"])
    context = await browser.new_context(**DESKTOP)
    page = await context.new_page()
    await _sign_in(page, live_server, "handler")
    await page.goto(live_server.url + f"/cases/{code}")
    assert "139****1111" in await page.content() and "13900001111" not in await page.content()

    async def move(action_label: str, note: str = "") -> None:
        form = page.locator("form.move")
        await form.locator("textarea[name=note]").fill(note)
        async with page.expect_navigation():
            await form.get_by_role("button", name=action_label).click()

    contact = page.locator("form.contact-log")
    await contact.locator("textarea[name=note]").fill("已回电，群众反映属实")
    async with page.expect_navigation():
        await contact.get_by_role("button", name="登记联系").click()
    await move("开始核实")
    await move("核实属实", "调取监控，属实")
    await move("开始整改")
    reply = page.locator("form.reply")
    await reply.locator("textarea[name=text]").fill("已批评教育当事人并调整岗位。")
    # No SMS here: the method is 电话, the clerk has phoned, so the form records the answer.
    async with page.expect_navigation():
        await reply.get_by_role("button", name="记录答复").click()
    assert await _status(live_server, code) == ("replied", "immediate")
    assert "电话答复已记录" in await page.locator("#notice").inner_text()
    assert "已答复" in await page.locator("h1").inner_text()
    visit = page.locator("form.contact-log")
    await visit.get_by_label("满意", exact=True).check()
    await visit.locator("select[name=problem_solved]").select_option("yes")
    await visit.locator("textarea[name=note]").fill("群众对整改满意")
    async with page.expect_navigation():
        await visit.get_by_role("button", name="登记回访").click()
    assert await _status(live_server, code) == ("return_visited", "immediate")
    await move("办结")
    assert await _status(live_server, code) == ("closed", "immediate")
    timeline = await page.locator("ol.events").inner_text()
    assert "回访" in timeline and "办结" in timeline
    await context.close()


async def test_choosing_a_category_by_mouse_offers_only_its_reasons(browser: Browser, live_server: LiveServer) -> None:
    """The list used to stay on 服务态度 under 限时整改, and 改分类 then failed with an English page."""
    services = live_server.services
    code = (await services.ingestor.ingest(make_intake(source_ref="m1", text="态度差 #immediate #review"))).case_code
    await make_staff(services, "mouse", ["triage"])
    context = await browser.new_context(**DESKTOP)
    page = await context.new_page()
    await _sign_in(page, live_server, "mouse")
    await page.goto(live_server.url + "/triage")
    form = page.locator("form.relabel").first
    assert await form.locator("select[name=reason]").input_value() == "attitude"
    await form.locator("select[name=label]").select_option("time_limited")
    offered = await form.locator("select[name=reason]").evaluate(
        "s => Array.from(s.options).filter(o => !o.parentElement.disabled).map(o => o.value)")
    assert offered == ["procedure", "steps", "efficiency"]
    assert await form.locator("select[name=reason]").input_value() == "procedure"
    async with page.expect_navigation():
        await form.locator("button").click()
    assert await _status(live_server, code) == ("triaged", "time_limited")
    assert "已改为 限时整改" in await page.inner_text("main")
    await context.close()


async def test_the_reply_button_follows_the_method(browser: Browser, live_server: LiveServer) -> None:
    """发送答复 for an SMS; 记录答复 once the clerk picks 电话 (the answer was given on the phone)."""
    from gateway.core import cases as case_ops
    from tests.helpers import enable_sms

    services = live_server.services
    enable_sms(services.settings)
    code = (await services.ingestor.ingest(make_intake(
        source_ref="b-reply", text="窗口工作人员玩手机 #time_limited",
        contact={"name": "李四", "phone": "13900001111", "real_name": False, "preferred_channel": "sms"}))).case_code
    for action, note in (("start_verification", None), ("verify_valid", "属实"), ("rectify", None)):
        await case_ops.transition(services.store, code, action, actor="handler", note=note)
    await make_staff(services, "handler", ["handler"], ["jintun"])
    context = await browser.new_context(**DESKTOP)
    page = await context.new_page()
    await _sign_in(page, live_server, "handler")
    await page.goto(f"{live_server.url}/cases/{code}")
    button = page.locator("#reply-submit")
    assert await button.inner_text() == "发送答复"
    await page.locator("form.reply select[name=channel]").select_option("phone")
    assert await button.inner_text() == "记录答复"
    await page.locator("form.reply select[name=channel]").select_option("sms")
    assert await button.inner_text() == "发送答复"
    await context.close()
