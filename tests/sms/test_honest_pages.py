"""With no SMS provider configured (the default), nothing offers or promises an SMS: the 找茬窗口
form, its receipt, the hotline, the handler's reply form; nothing is queued that would wait forever;
the /sms page says what is missing; and 答复率 counts an answer only once it reached the citizen."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from gateway.app import create_app
from gateway.console.actions import reply
from gateway.core.db.models import Case, OutboxMessage
from gateway.core.services import Services
from gateway.core.workflow import WorkflowError
from gateway.results.figures import REPLIED
from gateway.sms.delivery import apply_report, domestic_report
from tests.helpers import enable_sms, make_intake
from tests.sms.helpers import case_to_answer, handler
from tests.staff import make_staff, signed_in
from tests.web.citizen import citizen, link, receipt_code


async def test_the_form_and_its_receipt_promise_no_sms(services: Services) -> None:
    app = create_app(services=services, run_workers=False)
    async with citizen(app) as person:
        page = await person.open(link(services))
        assert page.status_code == 200
        assert "发短信给我" not in page.text and 'value="sms"' not in page.text and "电话联系我" in page.text
        # A page from before SMS was switched off (or a crafted post) is told plainly.
        refused = await person.submit(link(services), rating="dissatisfied", reason="attitude", text="没人理",
                                      name="王小明", phone="13812345678", reply="sms", consent="1")
        assert refused.status_code == 400 and "短信答复暂未开通" in refused.text
        sent = await person.submit(link(services), rating="dissatisfied", reason="attitude", text="没人理",
                                   name="王小明", phone="13812345678", reply="phone", consent="1")
        receipt = await person.get(sent.headers["location"])
    assert "短信" not in receipt.text and "工作人员将打电话到 138****5678" in receipt.text
    assert receipt_code(receipt)


async def test_no_acknowledgement_waits_forever_and_the_case_is_a_call(services: Services) -> None:
    result = await services.ingestor.ingest(make_intake())  # the citizen asked for SMS (a slip, an old page)
    async with services.store.read() as session:
        case = (await session.execute(select(Case))).scalar_one()
        queued = (await session.execute(select(func.count()).select_from(OutboxMessage))).scalar_one()
    assert result.created and queued == 0 and case.reply_channel == "phone"


async def test_the_handler_cannot_choose_sms_and_the_hotline_does_not_offer_it(services: Services) -> None:
    actor = await handler(services)
    code = await case_to_answer(services, actor)
    await make_staff(services, "op", ["operator"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "supervisor1") as client:
        page = await client.get(f"/cases/{code}")
        form = re.search(r'<select name="channel">(.*?)</select>', page.text, re.S).group(1)  # type: ignore[union-attr]
        assert 'value="sms"' not in form and re.search(r'value="phone" selected', form)
        assert "短信未启用" in page.text
        posted = await client.post_form(f"/cases/{code}/reply", {"channel": "sms", "text": "已整改"})
        assert posted.status_code == 409 and "短信未启用，请改用电话或邮件答复" in posted.text
    async with signed_in(app, "op") as client:
        hotline = await client.get("/hotline")
        assert 'value="sms"' not in hotline.text and "短信未开通" in hotline.text
        logged = await client.post_form("/hotline/calls", {
            "call_id": "hl-no-sms-000001", "phone": "13812345678", "hall": "jintun", "rating": "dissatisfied",
            "reasons": ["attitude"], "summary": "态度差", "preferred_channel": "sms"},
            headers={"accept": "application/json"})
        assert logged.status_code == 422 and "短信答复暂未开通" in logged.json()["problems"]["preferred_channel"]
    async with services.store.read() as session:
        assert (await session.execute(select(Case.status).where(Case.code == code))).scalar_one() == "rectifying"


async def test_the_sms_page_says_what_is_missing(services: Services) -> None:
    await make_staff(services, "boss", ["admin"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "boss") as client:
        page = await client.get("/sms")
        assert page.status_code == 200 and "短信未启用" in page.text and "HCP_SMS_PROVIDER" in page.text
        services.settings.sms_provider = "alibaba"
        services.settings.sms_templates = {"acknowledgement": "SMS_1"}
        page = await client.get("/sms")
    missing = re.search(r'id="sms-missing">(.*?)</section>', page.text, re.S).group(1)  # type: ignore[union-attr]
    for name in ("HCP_SMS_KEY_ID", "HCP_SMS_KEY_SECRET", "HCP_SMS_SIGN_NAME", "reply_notice"):
        assert name in missing
    assert "acknowledgement" not in missing and "HCP_SMS_APP_ID" not in missing


async def _replied(services: Services) -> int:
    async with services.store.read() as session:
        return (await session.execute(select(func.count()).select_from(Case).where(REPLIED))).scalar_one()


async def test_the_reply_rate_counts_answers_that_reached_the_citizen(services: Services) -> None:
    enable_sms(services.settings)
    actor = await handler(services)
    by_sms = await case_to_answer(services, actor, "t-sms")
    by_phone = await case_to_answer(services, actor, "t-phone")
    await reply(services, by_sms, actor, "已整改。", channel="sms")
    await reply(services, by_phone, actor, "已电话告知整改结果。", channel="phone")
    assert await _replied(services) == 1  # the call counts; the SMS is only queued
    async with services.store.write() as session:
        row = (await session.execute(select(OutboxMessage).where(OutboxMessage.kind == "reply"))).scalar_one()
        row.status, row.provider_ref = "sent", "SM" + "1" * 32
    assert await _replied(services) == 1  # handed to the provider, not yet delivered
    await apply_report(services, domestic_report("twilio", "SM" + "1" * 32, True, None))
    assert await _replied(services) == 2


async def test_no_sms_answer_to_a_fixed_line(services: Services) -> None:
    enable_sms(services.settings)
    actor = await handler(services)
    code = await case_to_answer(services, actor, contact={"phone": "0537-6851890", "preferred_channel": "phone"})
    with pytest.raises(WorkflowError, match="固定电话，收不到短信"):
        await reply(services, code, actor, "已整改。", channel="sms")
    async with services.store.read() as session:
        assert (await session.execute(select(func.count()).select_from(OutboxMessage))).scalar_one() == 0


def test_a_receipt_read_after_sms_was_switched_off_promises_a_call() -> None:
    from zoneinfo import ZoneInfo

    from gateway.web.lookup import Receipt
    from gateway.web.views import next_steps

    receipt = Receipt(code="JX20261127-0001", status="triaged", category="immediate", needs_review=False,
                      first_response_due=None, result_due=None, deadline_uncertain=False, reply_channel="sms",
                      phone="13812345678", hall_name="金屯镇", window_name="综合受理窗口", rating="dissatisfied")
    tz = ZoneInfo("Asia/Shanghai")
    assert next_steps(receipt, b"k", tz, sms=True).reply == "处理结果将以短信发送到 138****5678。"
    assert next_steps(receipt, b"k", tz, sms=False).reply == "工作人员将打电话到 138****5678 与您联系。"
