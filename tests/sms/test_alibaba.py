"""Alibaba Cloud SMS through its real SDK against a local fake that checks the ACS3-HMAC-SHA256
signature: templates and parameters per message kind, every error class, and delivery read back
with QuerySendDetails (in any order)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from gateway.app import create_app
from gateway.console.actions import reply
from gateway.core.db.models import Case, OutboxMessage
from gateway.core.outbox import OutboxDelivery
from gateway.core.services import Services
from gateway.core.settings import Settings
from gateway.phone.return_visits import record_visit
from gateway.sms.jobs import poll_alibaba
from gateway.sms.sender import SmsSender
from gateway.web.lookup import lookup_status
from tests.helpers import make_intake
from tests.sms.conftest import REPORT_TOKEN, TEMPLATES, provider_settings
from tests.sms.fakes import FakeAlibaba, serve
from tests.sms.helpers import case_to_answer, handler

PHONE = "13812345678"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def settings(tmp_path: Path, database_url: str, fake_alibaba: FakeAlibaba) -> Settings:
    return provider_settings(tmp_path, database_url, "alibaba", fake_alibaba.endpoint)


def deliver(services: Services) -> OutboxDelivery:
    return OutboxDelivery(services.store, services.cipher, {"sms": SmsSender(services)}, max_attempts=3,
                          backoff_seconds=30)


async def outbox(services: Services) -> list[OutboxMessage]:
    async with services.store.read() as session:
        return list((await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())


async def test_acknowledgement_is_the_approved_template_signed_as_the_sdk_signs(
        services: Services, fake_alibaba: FakeAlibaba) -> None:
    result = await services.ingestor.ingest(make_intake())
    assert await deliver(services).run_once() == {"sent": 1, "retry": 0, "failed": 0}
    [sent] = fake_alibaba.sent
    [row] = await outbox(services)
    assert fake_alibaba.bad_signatures == 0
    assert (sent["PhoneNumbers"], sent["SignName"], sent["TemplateCode"], sent["OutId"]) == (
        PHONE, "嘉祥县政务服务", TEMPLATES["acknowledgement"], str(row.id))
    assert json.loads(sent["TemplateParam"]) == {"code": result.case_code}
    assert row.status == "sent" and row.provider_ref == sent["BizId"]


async def test_a_wrong_secret_is_caught_by_the_fake_and_fails_for_good(services: Services,
                                                                       fake_alibaba: FakeAlibaba) -> None:
    fake_alibaba.secret = "another-secret"  # the fake now expects a signature the SDK cannot make
    await services.ingestor.ingest(make_intake())
    assert await deliver(services).run_once() == {"sent": 0, "retry": 0, "failed": 1}
    [row] = await outbox(services)
    assert fake_alibaba.bad_signatures == 1 and fake_alibaba.sent == []
    assert row.last_error.startswith("短信账号密钥错误（阿里云短信 SignatureDoesNotMatch")


@pytest.mark.parametrize(("status", "answer", "outcome", "gist"), [
    (200, {"Code": "isv.SMS_TEMPLATE_ILLEGAL", "Message": "模板不合法(不存在或被拉黑)"}, "failed", "模板或签名不符"),
    (200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发号码天级流控Permits:10"}, "retry", "发送过于频繁"),
    (200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号 13812345678"}, "failed", "号码无效或拒收"),
    (200, {"Code": "isv.AMOUNT_NOT_ENOUGH", "Message": "账户余额不足"}, "retry", "短信余额不足"),
    (503, {"Code": "ServiceUnavailable", "Message": "The request has failed due to a temporary failure."}, "retry",
     "短信服务暂时不可用"),
    (400, {"Code": "Throttling.User", "Message": "Request was denied due to user flow control."}, "retry",
     "发送过于频繁"),
])
async def test_every_error_class(services: Services, fake_alibaba: FakeAlibaba, caplog: pytest.LogCaptureFixture,
                                 status: int, answer: dict[str, str], outcome: str, gist: str) -> None:
    await services.ingestor.ingest(make_intake())
    fake_alibaba.next_answers = [(status, {**answer, "RequestId": "X"})]
    with caplog.at_level(logging.DEBUG):
        counts = await deliver(services).run_once()
    assert counts[outcome] == 1
    [row] = await outbox(services)
    assert row.last_error.startswith(gist + "（阿里云短信 " + answer["Code"])
    ours = [r.getMessage() for r in caplog.records if r.name != "aiohttp.access"]  # not the fake server's log
    assert PHONE not in row.last_error and not [line for line in ours if PHONE in line]
    assert row.status == ("failed" if outcome == "failed" else "pending")


async def test_provider_down_means_retry(services: Services, tmp_path: Path) -> None:
    async def nothing(request):  # type: ignore[no-untyped-def]
        raise ConnectionResetError

    async with serve(nothing) as closed:
        pass  # the port is closed again: connection refused
    services.settings.sms_endpoint = closed
    await services.ingestor.ingest(make_intake())
    assert (await deliver(services).run_once())["retry"] == 1
    [row] = await outbox(services)
    assert row.status == "pending" and row.last_error.startswith("短信服务暂时不可用")


async def test_a_long_reply_goes_as_a_notice_and_a_short_one_as_text(services: Services,
                                                                     fake_alibaba: FakeAlibaba) -> None:
    actor = await handler(services)
    short_case = await case_to_answer(services, actor, "t-short")
    long_case = await case_to_answer(services, actor, "t-long")
    long_answer = "经核实，" + "窗口已调整排班并加强培训，" * 5
    await reply(services, short_case, actor, "已整改，谢谢监督。", channel="sms")
    await reply(services, long_case, actor, long_answer, channel="sms")
    assert (await deliver(services).run_once())["sent"] == 4
    short, notice = fake_alibaba.sent[2:]
    assert short["TemplateCode"] == TEMPLATES["reply"]
    assert json.loads(short["TemplateParam"]) == {"code": short_case, "text": "已整改，谢谢监督。"}
    assert notice["TemplateCode"] == TEMPLATES["reply_notice"]
    assert json.loads(notice["TemplateParam"]) == {"code": long_case}
    # The notice points at the status lookup, which shows the whole answer to the citizen.
    found = await lookup_status(services.store, services.cipher, services.settings.signing_key(), long_case,
                                "5678", now=datetime.now(UTC), limit=5, period=timedelta(minutes=10))
    assert found.view is not None and [r.text for r in found.view.replies] == [long_answer]


async def test_delivery_read_back_with_query_send_details(services: Services, fake_alibaba: FakeAlibaba) -> None:
    actor = await handler(services)
    code = await case_to_answer(services, actor)
    await reply(services, code, actor, "已整改。", channel="sms")
    await deliver(services).run_once()
    ack, answer = await outbox(services)
    # Nothing known yet: the poll asks, Alibaba says "waiting".
    fake_alibaba.details[ack.provider_ref] = [{"SendStatus": 1, "ErrCode": "", "OutId": str(ack.id),
                                               "PhoneNum": PHONE, "SendDate": "2026-11-27 10:00:01"}]
    counts = await poll_alibaba(services)
    assert counts["asked"] == 2 and counts["waiting"] == 2
    query = fake_alibaba.queries[0]
    assert query["PhoneNumber"] == PHONE and query["SendDate"] == datetime.now(SHANGHAI).strftime("%Y%m%d")
    fake_alibaba.details[ack.provider_ref] = [{"SendStatus": 2, "ErrCode": "MK:0001", "OutId": str(ack.id)}]
    fake_alibaba.details[answer.provider_ref] = [{"SendStatus": 3, "ErrCode": "DELIVERED", "OutId": str(answer.id),
                                                  "ReceiveDate": "2026-11-27 10:00:09"}]
    counts = await poll_alibaba(services)
    assert (counts["delivered"], counts["failed"]) == (1, 1)
    ack, answer = await outbox(services)
    assert ack.status == "failed" and ack.last_error == "短信未送达（阿里云短信 MK:0001）"
    assert answer.payload["delivery_state"] == "delivered"
    async with services.store.read() as session:
        case = (await session.execute(select(Case))).scalar_one()
    assert case.reply_delivered_at == datetime(2026, 11, 27, 10, 0, 9, tzinfo=SHANGHAI)
    # Final states are not asked about again.
    asked = len(fake_alibaba.queries)
    assert (await poll_alibaba(services))["asked"] == 0 and len(fake_alibaba.queries) == asked


async def test_an_unreached_return_visit_leaves_one_notice(services: Services, fake_alibaba: FakeAlibaba) -> None:
    actor = await handler(services)
    code = await case_to_answer(services, actor)
    await reply(services, code, actor, "已电话告知整改结果。", channel="phone")
    for _ in range(2):  # two unanswered calls, one SMS
        await record_visit(services, code, reached=False, who="回访员")
    assert (await deliver(services).run_once())["sent"] == 2
    notice = fake_alibaba.sent[-1]
    assert notice["TemplateCode"] == TEMPLATES["return_visit"]
    assert json.loads(notice["TemplateParam"]) == {"code": code}


async def test_the_http_batch_push_needs_its_token(services: Services, fake_alibaba: FakeAlibaba) -> None:
    await services.ingestor.ingest(make_intake())
    await deliver(services).run_once()
    [row] = await outbox(services)
    app = create_app(services=services, run_workers=False)
    push = [{"phone_number": PHONE, "send_time": "2026-11-27 10:00:01", "report_time": "2026-11-27 10:00:08",
             "success": False, "err_code": "IC:0015", "err_msg": "空号", "sms_size": "1", "biz_id": row.provider_ref,
             "out_id": str(row.id)}]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as client:
        assert (await client.post("/sms/reports/alibaba/guess", json=push)).status_code == 404
        answer = await client.post(f"/sms/reports/alibaba/{REPORT_TOKEN}", json=push)
    assert answer.status_code == 200 and answer.json() == {"code": 0, "msg": "成功"}
    [row] = await outbox(services)
    assert row.status == "failed" and row.last_error == "短信未送达（阿里云短信 IC:0015）"
