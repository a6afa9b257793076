"""Tencent Cloud SMS through its real async SDK against a local fake that checks the TC3-HMAC-SHA256
signature: template ids and positional parameters, every error class (request-level and per number),
and status callbacks arriving out of order on the secret report URL."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from gateway.app import create_app
from gateway.console.actions import reply
from gateway.core.db.models import Case, OutboxMessage
from gateway.core.outbox import OutboxDelivery
from gateway.core.services import Services
from gateway.core.settings import Settings
from gateway.sms.sender import SmsSender
from tests.helpers import make_intake
from tests.sms.conftest import REPORT_TOKEN, TEMPLATES, provider_settings
from tests.sms.fakes import FakeTencent
from tests.sms.helpers import case_to_answer, handler

PHONE = "13812345678"


@pytest.fixture
def settings(tmp_path: Path, database_url: str, fake_tencent: FakeTencent) -> Settings:
    return provider_settings(tmp_path, database_url, "tencent", fake_tencent.endpoint, sms_region="ap-beijing")


def deliver(services: Services) -> OutboxDelivery:
    return OutboxDelivery(services.store, services.cipher, {"sms": SmsSender(services)}, max_attempts=3,
                          backoff_seconds=30)


async def outbox(services: Services) -> list[OutboxMessage]:
    async with services.store.read() as session:
        return list((await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())


async def test_acknowledgement_signed_and_in_template_order(services: Services, fake_tencent: FakeTencent) -> None:
    result = await services.ingestor.ingest(make_intake())
    assert await deliver(services).run_once() == {"sent": 1, "retry": 0, "failed": 0}
    [sent] = fake_tencent.sent
    [row] = await outbox(services)
    assert fake_tencent.bad_signatures == 0
    assert sent["PhoneNumberSet"] == ["+86" + PHONE] and sent["SmsSdkAppId"] == "1400800001"
    assert (sent["SignName"], sent["TemplateId"], sent["Region"]) == ("嘉祥县政务服务", TEMPLATES["acknowledgement"],
                                                                       "ap-beijing")
    assert sent["TemplateParamSet"] == [result.case_code]
    assert sent["SessionContext"] == str(row.id) and row.provider_ref == sent["SerialNo"]


async def test_a_wrong_secret_is_caught_by_the_fake(services: Services, fake_tencent: FakeTencent) -> None:
    fake_tencent.secret = "not-the-configured-secret"
    await services.ingestor.ingest(make_intake())
    assert (await deliver(services).run_once())["failed"] == 1
    [row] = await outbox(services)
    assert fake_tencent.bad_signatures == 1
    assert row.last_error.startswith("短信账号密钥错误（腾讯云短信 AuthFailure.SignatureFailure")


def _per_number(code: str, message: str) -> tuple[int, dict[str, object]]:
    return 200, {"SendStatusSet": [{"SerialNo": "", "PhoneNumber": "+86" + PHONE, "Fee": 0, "SessionContext": "",
                                    "Code": code, "Message": message, "IsoCode": "CN"}], "RequestId": "T9"}


def _request_error(code: str, message: str) -> tuple[int, dict[str, object]]:
    return 200, {"Error": {"Code": code, "Message": message}, "RequestId": "T8"}


@pytest.mark.parametrize(("answer", "outcome", "gist"), [
    (_request_error("FailedOperation.TemplateIncorrectOrUnapproved", "template is not approved"), "failed",
     "模板或签名不符"),
    (_per_number("LimitExceeded.PhoneNumberOneHourLimit", "+8613812345678 hour limit"), "retry", "发送过于频繁"),
    (_per_number("InvalidParameterValue.IncorrectPhoneNumber", "invalid number +8613812345678"), "failed",
     "号码无效或拒收"),
    (_request_error("FailedOperation.InsufficientBalanceInSmsPackage", "no package"), "retry", "短信余额不足"),
    (_request_error("InternalError.Timeout", "timeout"), "retry", "短信服务暂时不可用"),
    ((502, {}), "retry", "短信服务暂时不可用"),
])
async def test_every_error_class(services: Services, fake_tencent: FakeTencent, caplog: pytest.LogCaptureFixture,
                                 answer: tuple[int, dict[str, object]], outcome: str, gist: str) -> None:
    await services.ingestor.ingest(make_intake())
    fake_tencent.next_answers = [answer]
    with caplog.at_level(logging.DEBUG):
        assert (await deliver(services).run_once())[outcome] == 1
    [row] = await outbox(services)
    assert row.last_error.startswith(gist + "（腾讯云短信")
    assert row.status == ("failed" if outcome == "failed" else "pending")
    ours = [r.getMessage() for r in caplog.records if r.name != "aiohttp.access"]  # not the fake server's log
    assert PHONE not in row.last_error and not [line for line in ours if PHONE in line]


async def test_status_callbacks_out_of_order(services: Services, fake_tencent: FakeTencent) -> None:
    actor = await handler(services)
    code = await case_to_answer(services, actor)
    await reply(services, code, actor, "已整改。", channel="sms")
    await deliver(services).run_once()
    ack, answer = await outbox(services)

    def report(serial: str, ok: bool, errmsg: str) -> dict[str, str]:
        return {"user_receive_time": "2026-11-27 10:00:09", "nationcode": "86", "mobile": PHONE,
                "report_status": "SUCCESS" if ok else "FAIL", "errmsg": errmsg,
                "description": "用户短信送达成功" if ok else "用户关机", "sid": serial}

    app = create_app(services=services, run_workers=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as client:
        url = f"/sms/reports/tencent/{REPORT_TOKEN}"
        assert (await client.post("/sms/reports/tencent/wrong-token", json=[report(ack.provider_ref, True, "DELIVRD")])
                ).status_code == 404
        first = await client.post(url, json=[report(answer.provider_ref, True, "DELIVRD"),
                                             report(ack.provider_ref, False, "MN:0001"),
                                             report("2433:unknown", True, "DELIVRD"),
                                             {"garbage": True}])
        assert first.status_code == 200 and first.json() == {"result": 0, "errmsg": "OK"}
        # Late and contradicting words on settled messages change nothing.
        again = await client.post(url, json=[report(ack.provider_ref, True, "DELIVRD"),
                                             report(answer.provider_ref, False, "MN:0001")])
        assert again.status_code == 200
        assert (await client.post(url, content=b"{not json")).status_code == 400
    ack, answer = await outbox(services)
    assert answer.payload["delivery_state"] == "delivered" and answer.status == "sent"
    assert ack.status == "failed" and ack.last_error == "短信未送达（腾讯云短信 MN:0001）"
    assert PHONE not in str(ack.payload) and PHONE not in str(answer.payload)
    async with services.store.read() as session:
        assert (await session.execute(select(Case.reply_delivered_at))).scalar_one() is not None
