"""The twilio ``Client`` (its own HTTP code) against a local fake Twilio API: SMS through the outbox
with retries, error handling without leaking numbers, and the REST call list for ``hcp phone import``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from gateway.core.db.models import Message, OutboxMessage
from gateway.core.db.models_phone import CallbackTask
from gateway.core.outbox import OutboxDelivery, OutgoingMessage, enqueue
from gateway.core.services import Services
from gateway.phone.importer import fetch_twilio_calls, store_parsed
from gateway.sms.sender import SmsSender
from tests.helpers import make_intake
from tests.phone.conftest import ACCOUNT, FROM, FakeTwilio

# The twilio library's asyncio client still uses aiohttp's older BasicAuth API.
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated:DeprecationWarning")


def delivery(services: Services, sender: SmsSender) -> OutboxDelivery:
    return OutboxDelivery(services.store, services.cipher, {"sms": sender}, max_attempts=3, backoff_seconds=30)


async def _enqueue(services: Services, recipient: str, key: str) -> int:
    return await services.store.run_write(lambda session: enqueue(session, services.cipher, OutgoingMessage(
        channel="sms", kind="reply", recipient=recipient, body="您反映的问题已整改。", dedup_key=key)))


async def test_acknowledgement_goes_out_through_the_twilio_client(services: Services, fake_twilio: FakeTwilio) -> None:
    services.settings.twilio_api_base_url = fake_twilio.url
    result = await services.ingestor.ingest(make_intake())
    sender = SmsSender(services)
    assert await delivery(services, sender).run_once() == {"sent": 1, "retry": 0, "failed": 0}
    [request] = fake_twilio.requests
    form = request["form"]
    assert request["auth"] and request["path"] == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert form["To"] == "+8613812345678" and form["From"] == FROM
    assert form["Body"].startswith("【嘉祥县政务服务】您好！您的意见已受理，受理编号：" + result.case_code)
    async with services.store.read() as session:
        row = (await session.execute(select(OutboxMessage))).scalar_one()
        outbound = (await session.execute(select(Message).where(Message.direction == "out"))).scalar_one()
    assert form["StatusCallback"] == f"http://127.0.0.1:8000/twilio/sms-status?outbox={row.id}"
    assert row.status == "sent" and row.provider_ref.startswith("SM") and len(row.provider_ref) == 34
    assert (outbound.channel, outbound.source_ref, outbound.case_id) == ("sms", row.provider_ref, result.case_id)


async def test_refusals_and_outages(services: Services, fake_twilio: FakeTwilio) -> None:
    services.settings.twilio_api_base_url = fake_twilio.url
    sender = SmsSender(services)
    invalid = await _enqueue(services, "13900001111", "a")
    fake_twilio.fail_next = [(400, {"code": 21211, "status": 400, "more_info": "https://www.twilio.com/docs/errors/21211",
                                    "message": "The 'To' number +8613900001111 is not a valid phone number."})]
    assert await delivery(services, sender).run_once() == {"sent": 0, "retry": 0, "failed": 1}
    outage = await _enqueue(services, "13900002222", "b")
    fake_twilio.fail_next = [(503, {"code": 20500, "status": 503, "message": "Service unavailable"})]
    assert await delivery(services, sender).run_once() == {"sent": 0, "retry": 1, "failed": 0}
    landline = await _enqueue(services, "0537-6851890", "c")
    requests_before = len(fake_twilio.requests)
    assert (await delivery(services, sender).run_once())["failed"] == 1
    assert len(fake_twilio.requests) == requests_before, "nothing is sent to a fixed line"
    async with services.store.read() as session:
        rows = {r.id: r for r in (await session.execute(select(OutboxMessage))).scalars()}
    assert rows[invalid].status == "failed" and rows[invalid].last_error.startswith("号码无效或拒收（Twilio 21211")
    assert "13900001111" not in rows[invalid].last_error and "[号码]" in rows[invalid].last_error
    assert rows[outage].status == "pending" and rows[outage].attempts == 1 and "503" in rows[outage].last_error
    assert rows[landline].status == "failed" and "fixed lines" in rows[landline].last_error
    # The outage is over: the retry goes out.
    async with services.store.write() as session:
        (await session.get(OutboxMessage, outage)).next_attempt_at = datetime.now(UTC)
    assert (await delivery(services, sender).run_once())["sent"] == 1


async def test_wrong_credentials_are_a_permanent_failure(services: Services, fake_twilio: FakeTwilio) -> None:
    services.settings.twilio_api_base_url = fake_twilio.url
    services.settings.twilio_auth_token = type(services.settings.twilio_auth_token)("wrong")
    await _enqueue(services, "13900001111", "d")
    assert (await delivery(services, SmsSender(services)).run_once())["failed"] == 1
    assert fake_twilio.requests[0]["auth"] is False


async def test_call_list_through_the_rest_api(services: Services, fake_twilio: FakeTwilio) -> None:
    services.settings.twilio_api_base_url = fake_twilio.url
    fake_twilio.calls = [
        {"sid": "CA" + "1" * 32, "from": "+8613812345678", "to": FROM, "status": "no-answer", "direction": "inbound",
         "start_time": "Fri, 27 Nov 2026 02:00:00 +0000", "end_time": None, "duration": "0"},
        {"sid": "CA" + "2" * 32, "from": "+8613900001111", "to": FROM, "status": "completed", "direction": "inbound",
         "start_time": "Fri, 27 Nov 2026 02:10:00 +0000", "end_time": "Fri, 27 Nov 2026 02:11:00 +0000",
         "duration": "60"},
    ]
    parsed = await fetch_twilio_calls(services, since=datetime(2026, 11, 26, tzinfo=UTC))
    [request] = fake_twilio.requests
    assert request["auth"] and request["query"]["To"] == FROM
    assert request["query"]["StartTime>"].startswith("2026-11-26")
    assert [(r.outcome, r.caller) for _, r in parsed.records] == [("missed", "13812345678"),
                                                                  ("answered", "13900001111")]
    counts = await store_parsed(services, parsed)
    assert (counts.new, counts.callbacks) == (2, 2)  # the completed call left no message: a call back too
    async with services.store.read() as session:
        kinds = sorted(t.kind for t in (await session.execute(select(CallbackTask))).scalars())
    assert kinds == ["missed", "no_message"]


async def test_a_worker_killed_after_twilio_took_the_sms_does_not_send_it_twice(
        services: Services, fake_twilio: FakeTwilio) -> None:
    """Issue 23.10: the row is re-claimed after the lease; the sender asks Twilio before sending again."""
    services.settings.twilio_api_base_url = fake_twilio.url
    sender = SmsSender(services)
    outbox_id = await _enqueue(services, "13812345678", "k-crash")
    worker = delivery(services, sender)
    [claimed] = await worker.claim(datetime.now(UTC))
    await sender._mark_handing(outbox_id)  # what send() commits before its request …
    from twilio.http.async_http_client import AsyncTwilioHttpClient

    from gateway.phone.sms import make_client
    async with AsyncTwilioHttpClient() as http:  # … which Twilio took; then the worker was killed
        taken = await make_client(services.settings, http).messages.create_async(
            to="+8613812345678", from_=FROM, body=sender.content_of(claimed).text)
    later = datetime.now(UTC) + timedelta(minutes=10)  # past the dead worker's lease
    assert await worker.run_once(later) == {"sent": 1, "retry": 0, "failed": 0}
    posts = [r for r in fake_twilio.requests if "form" in r]
    assert len(posts) == 1, "Twilio got the SMS once"
    async with services.store.read() as session:
        row = (await session.execute(select(OutboxMessage).where(OutboxMessage.id == outbox_id))).scalar_one()
    assert row.status == "sent" and row.provider_ref == taken.sid
    other = await _enqueue(services, "13900001111", "k-crash-before")
    await worker.claim(later)
    await sender._mark_handing(other)  # killed before Twilio got anything: sent once, now
    assert await worker.run_once(later + timedelta(minutes=10)) == {"sent": 1, "retry": 0, "failed": 0}
    assert len([r for r in fake_twilio.requests if "form" in r]) == 2
