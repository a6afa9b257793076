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


async def _reason(server: LiveServer, code: str) -> str | None:
    async with server.services.store.read() as session:
        return (await session.execute(select(Case.reason).where(Case.code == code))).scalar_one()


async def _focused(page: Page) -> str:
    return await page.evaluate("document.activeElement.name || document.activeElement.className")


async def test_the_triage_team_reviews_the_queue_with_the_keyboard(browser: Browser, live_server: LiveServer) -> None:
    """A number key only chooses the category: the old page saved 立整立改（环境卫生）, the category's
    first reason, the moment ``1`` was pressed."""
    services = live_server.services
    first = (await services.ingestor.ingest(make_intake(source_ref="b1", text="大厅太脏 #immediate #review"))).case_code
    second = (await services.ingestor.ingest(make_intake(source_ref="b2", text="跑三趟 #time_limited #review"))
              ).case_code
    third = (await services.ingestor.ingest(make_intake(source_ref="b2b", text="态度敷衍 #immediate #review"))
             ).case_code
    await make_staff(services, "triager", ["triage"])
    context = await browser.new_context(**DESKTOP)
    page = await context.new_page()
    await _sign_in(page, live_server, "triager")
    await page.goto(live_server.url + "/triage")
    assert await page.locator("#queue .item").count() == 3
    keys = await page.locator("#keys").inner_text()
    assert "只选类别，不保存" in keys and "Enter" in keys and "Esc" in keys
    assert await page.locator("#queue .item.selected").get_attribute("data-code") == first
    async with page.expect_navigation():
        await page.keyboard.press("a")  # accept the first item as classified
    assert await _status(live_server, first) == ("triaged", "immediate")
    # The suggestion is kept when it belongs to the chosen category; Esc gives up and changes nothing.
    item = page.locator("#queue .item.selected")
    assert await item.get_attribute("data-code") == third  # 立整立改 is due first
    await page.keyboard.press("2")
    await page.keyboard.press("Escape")
    assert await item.locator("select[name=label]").input_value() == "immediate"
    assert await item.locator("select[name=reason]").input_value() == "attitude"
    assert await _focused(page) == "item selected"
    await page.keyboard.press("1")
    assert await item.locator("select[name=reason]").input_value() == "attitude"
    await page.keyboard.press("Tab")
    await page.keyboard.type("态度问题，确认立整立改")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert await _status(live_server, third) == ("triaged", "immediate")
    item = page.locator("#queue .item.selected")
    assert await item.get_attribute("data-code") == second
    await page.keyboard.press("3")  # choose 协调整改: nothing is saved yet
    await page.wait_for_timeout(300)
    assert await _status(live_server, second) == ("needs_review", "time_limited")
    assert await _focused(page) == "reason"
    reason = item.locator("select[name=reason]")
    assert await item.locator("select[name=label]").input_value() == "coordinated"
    assert await reason.input_value() == "", "the suggestion (办事效率) is not a 协调整改 reason: none chosen"
    offered = await reason.evaluate("s => Array.from(s.options).map(o => o.value)")
    assert offered == ["", "complex", "cross_department"]
    await page.keyboard.press("Enter")  # no reason chosen: the page asks for one, nothing is sent
    await page.wait_for_timeout(300)
    assert await _status(live_server, second) == ("needs_review", "time_limited")
    assert "请为“协调整改”选择原因" in await item.locator(".field-error").inner_text()
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("ArrowDown")
    assert await reason.input_value() == "cross_department"
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert await _status(live_server, second) == ("triaged", "coordinated")
    assert await _reason(live_server, second) == "cross_department"
    assert "队列已清空" in await page.locator("#queue").inner_text()
    await context.close()


async def test_no_reason_chosen_is_said_in_chinese_even_in_an_english_browser(browser: Browser,
                                                                              live_server: LiveServer) -> None:
    """Enter (or 确认改分类) with no reason chosen showed only the browser's own bubble, "Please select
    an item in the list." in an English browser.  Now the server's refusal is beside the list, tied
    to it and announced (role=alert), and nothing is sent."""
    services = live_server.services
    code = (await services.ingestor.ingest(make_intake(source_ref="e1", text="跑三趟 #time_limited #review"))
            ).case_code
    await make_staff(services, "english", ["triage"])
    context = await browser.new_context(**{**DESKTOP, "locale": "en-US"})
    page = await context.new_page()
    await _sign_in(page, live_server, "english")
    await page.goto(live_server.url + "/triage")
    url = page.url
    item = page.locator(f"#item-{code}")
    reason = item.locator("select[name=reason]")
    problem = item.locator(".field-error")
    assert await problem.get_attribute("role") == "alert" and await problem.inner_text() == ""
    await page.keyboard.press("3")  # 协调整改: the suggestion (办事效率) is not one of its reasons
    assert await reason.input_value() == ""
    await page.keyboard.press("Enter")
    await problem.wait_for(state="visible")
    expected = "请为“协调整改”选择原因：复杂问题、跨部门协调。案件的分类没有改动。"
    assert await problem.inner_text() == expected
    assert await reason.get_attribute("aria-invalid") == "true"
    assert await reason.get_attribute("aria-describedby") == await problem.get_attribute("id")
    assert await _focused(page) == "reason"
    await page.wait_for_timeout(300)
    assert page.url == url and await _status(live_server, code) == ("needs_review", "time_limited")
    # Another category: its own reasons named; the button says the same as Enter.
    await item.locator("select[name=label]").select_option("none")
    assert await problem.inner_text() == "", "a new category starts without the old message"
    await item.get_by_role("button", name="确认改分类").click()
    await page.wait_for_timeout(300)
    assert await problem.inner_text() == "请为“无需整改”选择原因：表扬、咨询、建议、无效信息。案件的分类没有改动。"
    assert page.url == url and await _status(live_server, code) == ("needs_review", "time_limited")
    await reason.select_option("inquiry")
    assert await problem.inner_text() == "" and await reason.get_attribute("aria-invalid") is None
    async with page.expect_navigation():
        await item.get_by_role("button", name="确认改分类").click()
    assert await _status(live_server, code) == ("triaged", "none")
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
    """The list used to stay on 服务态度 under 限时整改; then it preselected 办事流程, which a click
    on the button saved for a complaint about 推诿 nobody had read as a 流程 problem."""
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
    await page.wait_for_timeout(300)
    assert await _status(live_server, code) == ("needs_review", "immediate"), "choosing saves nothing"
    offered = await form.locator("select[name=reason]").evaluate("s => Array.from(s.options).map(o => o.value)")
    assert offered == ["", "procedure", "steps", "efficiency"]
    assert await form.locator("select[name=reason]").input_value() == ""
    await form.get_by_role("button", name="确认改分类").click()  # no reason: the page asks for one
    await page.wait_for_timeout(300)
    assert await _status(live_server, code) == ("needs_review", "immediate")
    assert "请为“限时整改”选择原因" in await form.locator(".field-error").inner_text()
    await form.locator("select[name=reason]").select_option("steps")
    assert await form.locator(".field-error").inner_text() == "", "a chosen reason clears the message"
    async with page.expect_navigation():
        await form.get_by_role("button", name="确认改分类").click()
    assert await _status(live_server, code) == ("triaged", "time_limited")
    assert await _reason(live_server, code) == "steps"
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


async def test_each_triage_view_offers_only_the_keys_it_answers_to(browser: Browser, live_server: LiveServer) -> None:
    """The spot check (自动分类抽查) offered "a 确认原分类 · x 勾选 · Shift+A 批量确认" but has no boxes and
    no bulk confirm: x then Shift+A led to a bare 请求有误 page.  Each view now lists its own keys, the
    others do nothing there, and the current tab is marked (aria-current) and looks it."""
    services = live_server.services
    auto = (await services.ingestor.ingest(make_intake(source_ref="s1", text="跑三趟 #time_limited"))).case_code
    review = (await services.ingestor.ingest(make_intake(source_ref="s2", text="态度敷衍 #immediate #review"))
              ).case_code
    await make_staff(services, "checker", ["triage"])
    context = await browser.new_context(**DESKTOP)
    page = await context.new_page()
    await _sign_in(page, live_server, "checker")

    await page.goto(live_server.url + "/triage?mode=auto")
    url = page.url
    assert await page.locator("#queue .item").count() == 1
    keys = await page.locator("#keys p").first.inner_text()
    assert "勾选" not in keys and "批量确认" not in keys and "确认原分类" not in keys, keys
    assert "上下移动" in keys and "打开案件" in keys
    assert await page.locator("#bulk").count() == 0
    for key in ("a", "x", "Shift+A"):
        await page.keyboard.press(key)
    await page.wait_for_timeout(400)
    assert page.url == url and "请求有误" not in await page.content()
    assert await _status(live_server, auto) == ("triaged", "time_limited")
    tabs = page.get_by_role("navigation", name="队列").get_by_role("link")
    assert await tabs.all_inner_texts() == ["待复核", "自动分类抽查"]
    current, other = tabs.nth(1), tabs.nth(0)
    assert await current.get_attribute("aria-current") == "page" and await other.get_attribute("aria-current") is None
    look = "a => { const s = getComputedStyle(a); return [s.fontWeight, s.borderTopStyle, s.borderTopColor]; }"
    current_look, other_look = await current.evaluate(look), await other.evaluate(look)
    assert current_look != other_look and int(current_look[0]) >= 700, (current_look, other_look)

    await page.goto(live_server.url + "/triage")
    keys = await page.locator("#keys p").first.inner_text()
    assert "x 勾选" in keys and "Shift+A 批量确认所选" in keys and "a 确认原分类" in keys, keys
    url = page.url
    await page.keyboard.press("Shift+A")  # nothing ticked: nothing sent
    await page.wait_for_timeout(400)
    assert page.url == url and await _status(live_server, review) == ("needs_review", "immediate")
    await page.keyboard.press("x")
    async with page.expect_navigation():
        await page.keyboard.press("Shift+A")
    assert "已批量确认 1 条" in await page.content()
    assert await _status(live_server, review) == ("triaged", "immediate")
    await context.close()
