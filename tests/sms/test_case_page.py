"""The delivery of each answer beside it on the case page (已送达 / 失败（原因） / retry state), and
答复未送达 on /supervise until a person reaches the citizen."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from sqlalchemy import select

from gateway.app import create_app
from gateway.console.actions import reply
from gateway.core.db.models import OutboxMessage
from gateway.core.services import Services
from gateway.phone.return_visits import record_visit
from gateway.sms.delivery import apply_report, domestic_report
from tests.helpers import enable_sms
from tests.sms.helpers import case_to_answer, handler
from tests.staff import signed_in


async def _reply_row(services: Services, code: str) -> OutboxMessage:
    async with services.store.read() as session:
        return (await session.execute(select(OutboxMessage).where(
            OutboxMessage.kind == "reply", OutboxMessage.dedup_key.like(f"reply:{code}:%")))).scalar_one()


async def _sent(services: Services, code: str, ref: str) -> None:
    row = await _reply_row(services, code)
    async with services.store.write() as session:
        stored = await session.get(OutboxMessage, row.id)
        stored.status, stored.provider_ref, stored.attempts, stored.sent_at = "sent", ref, 1, datetime.now(UTC)


def _state(page: str) -> str:
    found = re.findall(r'<div class="delivery-state [a-z]+"[^>]*>(.*?)</div>', page, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", found[-1])) if found else ""


async def test_delivery_beside_each_reply_and_undelivered_on_supervise(services: Services) -> None:
    enable_sms(services.settings)
    actor = await handler(services)
    delivered, failed, waiting = [await case_to_answer(services, actor, ref) for ref in ("t-ok", "t-bad", "t-wait")]
    for code in (delivered, failed, waiting):
        await reply(services, code, actor, "已整改。", channel="sms")
    await _sent(services, delivered, "2433:1")
    await _sent(services, failed, "2433:2")
    await apply_report(services, domestic_report("tencent", "2433:1", True, None))
    await apply_report(services, domestic_report("tencent", "2433:2", False, "MN:0001"))
    row = await _reply_row(services, waiting)
    async with services.store.write() as session:
        stored = await session.get(OutboxMessage, row.id)
        stored.attempts, stored.last_error = 1, "发送过于频繁（腾讯云短信 LimitExceeded.PhoneNumberOneHourLimit）"
        stored.next_attempt_at = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "supervisor1") as client:
        assert _state((await client.get(f"/cases/{delivered}")).text) == "已送达"
        assert _state((await client.get(f"/cases/{failed}")).text).startswith("失败（运营商未送达 MN:0001）")
        assert _state((await client.get(f"/cases/{waiting}")).text) == (
            "待发送（第 1 次未成功（发送过于频繁），12-01 10:30 重试）")
        supervise = (await client.get("/supervise")).text
        listed = re.search(r'id="undelivered-title">.*?</table>', supervise, re.S).group(0)  # type: ignore[union-attr]
        assert failed in listed and delivered not in listed and waiting not in listed
        await record_visit(services, failed, reached=True, who="回访员", satisfied=True)
        supervise = (await client.get("/supervise")).text
        listed = re.search(r'id="undelivered-title">.*?</table>', supervise, re.S).group(0)  # type: ignore[union-attr]
        assert failed not in listed
