"""axe-core finds no WCAG 2.0/2.1 A or AA violation on the triage queue at 1366×768: with an item
sent to review with a note, the model line, with no reason chosen (the message beside the list),
and after a refused correction (the error and the form as it was sent).  A screenshot of each
state is left in the test's tmp_path to look at."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.async_api import Browser

from tests.a11y.axe import violations
from tests.browser import LiveServer
from tests.console.test_console_browser import _sign_in
from tests.helpers import make_intake
from tests.staff import make_staff

DESKTOP = {"viewport": {"width": 1366, "height": 768}, "locale": "zh-CN"}
AXE_CONTEXT = {"bypass_csp": True}


async def _rules_status() -> dict[str, Any]:
    """What a real TriageService reports (gateway.core.triage_service.status), with a learned model."""
    return {"custom": False, "digest": "b98b8c724e7f0123", "error": None,
            "model": {"items": 821, "corrections": 0, "error": None,
                      "trained_at": datetime(2026, 12, 7, 2, 0, tzinfo=UTC),
                      "cv": {"k": 5, "macro_f1": 0.9741, "accuracy": 0.976, "auto_precision": 0.99,
                             "review_share": 0.12}}}


async def test_no_axe_violation_on_the_triage_queue(browser: Browser, live_server: LiveServer,
                                                    tmp_path: Path) -> None:
    services = live_server.services
    services.classifier.check_rules = _rules_status  # type: ignore[attr-defined]
    await services.ingestor.ingest(make_intake(source_ref="a1", text="推诿 态度敷衍 #immediate #review"))
    flagged = (await services.ingestor.ingest(make_intake(source_ref="a2", text="工作人员离岗 #time_limited"))
               ).case_code
    await make_staff(services, "triager", ["triage"])
    context = await browser.new_context(**DESKTOP, **AXE_CONTEXT)  # type: ignore[arg-type]
    page = await context.new_page()
    await _sign_in(page, live_server, "triager")
    await page.goto(f"{live_server.url}/cases/{flagged}")
    await page.locator("form.move textarea[name=note]").fill("离岗问题应属服务态度")
    async with page.expect_navigation():
        await page.get_by_role("button", name="转人工复核").click()
    await page.goto(live_server.url + "/triage")
    model_line = await page.inner_text("#model-status")
    assert "当前模型：系统内置，2026年12月07日训练，用 821 条已标注意见" in model_line
    assert "交叉验证得分 97.4%（按四个分类各自计分后取平均），约 12% 的意见会转人工复核" in model_line
    assert "离岗问题应属服务态度" in await page.inner_text("#queue")
    report: dict[str, list[str]] = {}
    await page.screenshot(path=str(tmp_path / "triage.png"))
    if found := await violations(page):
        report["queue"] = found
    await page.keyboard.press("2")
    await page.screenshot(path=str(tmp_path / "triage-choosing.png"))
    if found := await violations(page):
        report["choosing a category"] = found
    await page.keyboard.press("Enter")  # no reason chosen: the message beside the list, nothing sent
    assert "请为“限时整改”选择原因" in await page.locator("form.relabel .field-error").first.inner_text()
    await page.screenshot(path=str(tmp_path / "triage-no-reason.png"))
    if found := await violations(page):
        report["no reason chosen"] = found
    # Sent without a reason (no JavaScript check): the queue again, the refusal and the typed note.
    await page.evaluate("""() => { const f = document.querySelector('form.relabel');
        f.querySelector('textarea[name=note]').value = '应属限时整改'; f.noValidate = true; f.submit(); }""")
    await page.wait_for_load_state("load")
    assert "请为“限时整改”选择原因" in await page.inner_text("#relabel-error")
    await page.screenshot(path=str(tmp_path / "triage-refused.png"))
    if found := await violations(page):
        report["refused"] = found
    # The spot check (自动分类抽查): its own keys, the two views as tabs with the current one marked.
    await services.ingestor.ingest(make_intake(source_ref="a3", text="跑了三趟 #time_limited"))
    await page.goto(live_server.url + "/triage?mode=auto")
    await page.screenshot(path=str(tmp_path / "triage-auto.png"))
    if found := await violations(page):
        report["spot check"] = found
    await context.close()
    assert not report, "\n".join(f"{name}: {line}" for name, lines in report.items() for line in lines)
