"""The operator's page in a real headless Chromium, driven by the keyboard alone: sign in, log a call,
see the caller's history and the deadline, log a follow-up onto the open case."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Browser, expect
from sqlalchemy import select

from channels.intake import Intake
from gateway.core.db.models import Case, Message
from tests.browser import DESKTOP, LiveServer
from tests.staff import make_staff


async def test_log_a_call_with_the_keyboard_alone(browser: Browser, live_server: LiveServer, tmp_path: Path) -> None:
    services = live_server.services
    await make_staff(services, "zhao", ["operator"])
    earlier = await services.ingestor.ingest(Intake.build(
        channel="phone", source_ref="hl-earlier-000001", received_at=datetime.now(UTC) - timedelta(days=2),
        text="排队太久 #time_limited", contact={"phone": "13812345678", "name": "王小明"}))
    context = await browser.new_context(**DESKTOP)
    page = await context.new_page()
    await page.goto(live_server.url + "/hotline")
    await page.wait_for_function("document.activeElement && document.activeElement.name === 'username'")
    await page.keyboard.type("zhao")
    await page.keyboard.press("Tab")
    await page.keyboard.type("correct-horse-42")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert page.url == live_server.url + "/hotline"
    await page.wait_for_function("document.activeElement && document.activeElement.id === 'phone'")

    await page.keyboard.type("+86 138-1234-5678")
    await expect(page.locator("#phone-hint")).to_have_text("手机 138 1234 5678")
    history = page.locator("#history")
    await expect(history).to_contain_text(earlier.case_code)
    await expect(history).to_contain_text("限时整改")
    assert "13812345678" not in await history.inner_text()
    await page.keyboard.press("Tab")
    await page.keyboard.type("王小明")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Space")  # 实名评价
    await page.keyboard.press("Tab")
    await page.keyboard.type("jintun")
    await page.keyboard.press("Tab")  # 窗口 (left empty)
    await page.keyboard.press("Tab")  # 办理事项 (left empty)
    await page.keyboard.press("Tab")
    await page.keyboard.type("1")  # 评价: "1 非常不满意"
    await page.keyboard.press("Tab")
    await page.keyboard.type("窗口人员态度恶劣，一直玩手机 #immediate")
    await page.keyboard.press("Enter")

    result = page.locator("#result")
    await expect(result).to_contain_text("受理编号")
    await expect(result).to_contain_text("立整立改")
    await expect(result).to_contain_text("首次回复期限")
    await expect(result.locator(".countdown")).to_have_text(re.compile(r"^(剩余|已超时) "))
    code = (await result.locator(".code strong").inner_text()).strip()
    assert "null" not in await result.inner_text()
    # The new 立整立改 case joins the call-back list with its countdown.
    entry = page.locator(f"#callbacks li[data-ref='case:{code}']")
    await expect(entry).to_contain_text("立整立改 1 小时回电")
    await expect(entry.locator(".countdown")).to_have_text(re.compile(r"^(剩余|已超时) "))
    await page.wait_for_function("document.activeElement && document.activeElement.id === 'phone'")
    assert await page.locator("#summary").input_value() == ""

    # After saving, the tracking code stays in sight while the number field waits for the next call.
    assert await result.evaluate(
        "r => { const b = r.getBoundingClientRect(); return b.top >= 0 && b.bottom <= innerHeight; }")
    # The same citizen calls again about the new case: Alt+F goes to the 续报受理编号 field its label
    # promises, filled with the caller's latest case from the history; then on to the summary.
    await page.keyboard.type("13812345678")
    await expect(history.locator("button.follow")).to_have_count(2)
    await page.keyboard.press("Alt+f")
    assert await page.evaluate("document.activeElement.id") == "follow_up"
    assert await page.locator("#follow_up").input_value() == code
    await page.focus("#summary")
    await page.keyboard.type("补充：下午又去了一趟，还是没人")
    await page.keyboard.press("Enter")
    await expect(result).to_contain_text(f"已作为续报并入案件 {code}")
    await page.screenshot(path=str(tmp_path / "hotline.png"), full_page=True)
    await context.close()

    async with services.store.read() as session:
        case = (await session.execute(select(Case).where(Case.code == code))).scalar_one()
        messages = list((await session.execute(select(Message).where(Message.case_id == case.id))).scalars())
    assert case.channel == "phone" and case.category == "immediate" and case.rating == "very_dissatisfied"
    assert case.real_name and len(messages) == 2 and messages[1].text == "补充：下午又去了一趟，还是没人"


async def test_bad_number_is_flagged_before_saving(browser: Browser, live_server: LiveServer) -> None:
    await make_staff(live_server.services, "qian", ["operator"])
    context = await browser.new_context(**DESKTOP)
    page = await context.new_page()
    await page.goto(live_server.url + "/login?next=/hotline")
    await page.fill("input[name=username]", "qian")
    await page.fill("input[name=password]", "correct-horse-42")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    await page.wait_for_function("document.activeElement && document.activeElement.id === 'phone'")
    await page.keyboard.type("1381234x")
    await expect(page.locator("#phone-hint")).to_contain_text("号码格式不对")
    await page.keyboard.press("Enter")
    await expect(page.locator("#problems")).to_contain_text("号码格式不对")
    assert await page.locator("#phone").get_attribute("aria-invalid") == "true"
    await context.close()
