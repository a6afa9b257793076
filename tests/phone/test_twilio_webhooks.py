"""Twilio webhooks on both databases: signatures, the voice mailbox, call status, inbound SMS and
delivery reports.  Requests are signed exactly as Twilio signs them, for the public https URL the
app sits behind (the app itself is reached at http://127.0.0.1:8000)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from sqlalchemy import select

from gateway.core.db.models import Case, CaseEvent, Message, OutboxMessage
from gateway.core.db.models_phone import CallbackTask, PhoneCall
from gateway.core.outbox import FAILED, PENDING, SENT, OutgoingMessage, enqueue
from gateway.core.services import Services
from tests.phone.conftest import ACCOUNT, TOKEN, TwilioClient, sid

PUBLIC_URL = "https://hotline.example.gov.cn"
CALLER = "+8613812345678"


def voice_params(call: str, **extra: str) -> dict[str, str]:
    return {"CallSid": call, "AccountSid": ACCOUNT, "From": CALLER, "To": "+15005550006", "CallStatus": "ringing",
            "Direction": "inbound", **extra}


def recording(call: str, seconds: str = "37") -> dict[str, str]:
    return voice_params(call, RecordingSid=sid("RE"), RecordingDuration=seconds, RecordingStatus="completed",
                        RecordingUrl=f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE1")


async def test_voice_answers_with_a_mandarin_greeting_and_a_bounded_recording(twilio: TwilioClient) -> None:
    response = await twilio.signed("/twilio/voice", voice_params(sid("CA")))
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.text)
    assert root.tag == "Response"
    say, record, goodbye, hangup = list(root)
    assert say.tag == "Say" and say.get("language") == "zh-CN" and "好差评热线" in (say.text or "")
    assert record.tag == "Record" and record.get("maxLength") == "120" and record.get("finishOnKey") == "#"
    assert record.get("action") == f"{PUBLIC_URL}/twilio/recording"
    assert record.get("recordingStatusCallback") == f"{PUBLIC_URL}/twilio/recording"
    assert record.get("transcribe") == "true"
    assert record.get("transcribeCallback") == f"{PUBLIC_URL}/twilio/transcription"
    assert goodbye.tag == "Say" and goodbye.get("language") == "zh-CN" and hangup.tag == "Hangup"


async def test_signatures_are_checked_against_the_public_url(twilio: TwilioClient, services: Services) -> None:
    params = recording(sid("CA"))
    tampered = await twilio.signed("/twilio/recording", params, tamper={"From": "+8613900000000"})
    assert tampered.status_code == 403 and tampered.json() == {"error": "Twilio 签名校验失败"}
    wrong_url = await twilio.signed("/twilio/recording", params, url="http://127.0.0.1:8000/twilio/recording")
    assert wrong_url.status_code == 403
    other_path = await twilio.signed("/twilio/recording", params, url=f"{PUBLIC_URL}/twilio/voice")
    assert other_path.status_code == 403
    missing = await twilio.signed("/twilio/recording", params, signature=None)
    assert missing.status_code == 403
    wrong_token = await twilio.signed("/twilio/recording", params, token="another-token")
    assert wrong_token.status_code == 403
    garbage = await twilio.signed("/twilio/recording", params, signature="bm90IGEgc2lnbmF0dXJl")
    assert garbage.status_code == 403
    foreign = await twilio.signed("/twilio/recording", {**params, "AccountSid": "AC" + "9" * 32})
    assert foreign.status_code == 403 and "账号" in foreign.json()["error"]
    async with services.store.read() as session:
        assert (await session.execute(select(Case))).first() is None
    valid = await twilio.signed("/twilio/recording", params)
    assert valid.status_code == 200
    query = await twilio.signed("/twilio/sms-status", {"MessageSid": sid("SM"), "MessageStatus": "sent"},
                                query="outbox=1", url=f"{PUBLIC_URL}/twilio/sms-status?outbox=2")
    assert query.status_code == 403


async def test_recording_then_transcription_make_one_case(twilio: TwilioClient, services: Services) -> None:
    call = sid("CA")
    params = recording(call)
    first = await twilio.signed("/twilio/recording", params)
    assert first.status_code == 200 and ET.fromstring(first.text).find("Say").get("language") == "zh-CN"
    assert (await twilio.signed("/twilio/recording", params)).status_code == 200  # the status callback
    async with services.store.read() as session:
        case = (await session.execute(select(Case))).scalar_one()
        message = (await session.execute(select(Message))).scalar_one()
    assert case.channel == "phone" and message.source_ref == call
    assert case.status == "needs_review" and "录音 37 秒" in case.text
    assert message.extra["recording_url"].endswith("/Recordings/RE1") and message.extra["transcribed"] is False
    transcript = {**params, "TranscriptionSid": sid("TR"), "TranscriptionStatus": "completed",
                  "TranscriptionText": "金屯镇大厅窗口没人，等了一上午 #immediate"}
    done = await twilio.signed("/twilio/transcription", transcript)
    assert done.status_code == 204
    assert (await twilio.signed("/twilio/transcription", transcript)).status_code == 204
    async with services.store.read() as session:
        case = (await session.execute(select(Case))).scalar_one()
        message = (await session.execute(select(Message))).scalar_one()
        events = [e.kind for e in (await session.execute(select(CaseEvent).order_by(CaseEvent.id))).scalars()]
    assert case.text == message.text == "金屯镇大厅窗口没人，等了一上午 #immediate"
    assert message.extra["transcribed"] is True and message.extra["recording_seconds"] == 37
    assert events.count("transcribed") == 1


async def test_transcription_first_triages_normally(twilio: TwilioClient, services: Services) -> None:
    call = sid("CA")
    params = {**recording(call), "TranscriptionStatus": "completed", "TranscriptionText": "态度很差 #immediate"}
    assert (await twilio.signed("/twilio/transcription", params)).status_code == 204
    assert (await twilio.signed("/twilio/recording", recording(call))).status_code == 200
    async with services.store.read() as session:
        case = (await session.execute(select(Case))).scalar_one()
    assert case.status == "triaged" and case.category == "immediate" and case.first_response_due is not None


async def test_a_call_without_a_message_becomes_a_call_back(twilio: TwilioClient, services: Services) -> None:
    silent, late, busy = sid("CA"), sid("CA"), sid("CA")
    status = {"CallStatus": "completed", "CallDuration": "15", "Timestamp": "Fri, 27 Nov 2026 02:10:00 +0000"}
    assert (await twilio.signed("/twilio/call-status", voice_params(silent, **status))).status_code == 204
    assert (await twilio.signed("/twilio/call-status", voice_params(silent, **status))).status_code == 204
    ringing = await twilio.signed("/twilio/call-status", voice_params(sid("CA"), CallStatus="ringing"))
    assert ringing.status_code == 204
    async with services.store.read() as session:
        tasks = list((await session.execute(select(CallbackTask))).scalars())
        calls = list((await session.execute(select(PhoneCall))).scalars())
    assert [(t.kind, t.status, t.dedup_key) for t in tasks] == [("no_message", "open", f"call:twilio:{silent}")]
    assert services.cipher.open(tasks[0].phone_enc) == "13812345678" and len(calls) == 1
    # The status callback raced ahead of the recording: the late recording closes the task.
    other = {**voice_params(late, **status), "From": "+8613900001111"}
    assert (await twilio.signed("/twilio/call-status", other)).status_code == 204
    assert (await twilio.signed("/twilio/recording", {**recording(late), "From": "+8613900001111"})).status_code == 200
    busy_params = {**voice_params(busy, CallStatus="busy", CallDuration="0"), "From": "+8613700002222"}
    assert (await twilio.signed("/twilio/call-status", busy_params)).status_code == 204
    async with services.store.read() as session:
        by_key = {t.dedup_key: t for t in (await session.execute(select(CallbackTask))).scalars()}
        late_call = (await session.execute(select(PhoneCall).where(PhoneCall.call_id == late))).scalar_one()
    assert by_key[f"call:twilio:{late}"].status == "done" and "留言已到达" in by_key[f"call:twilio:{late}"].note
    assert late_call.case_id is not None
    assert by_key[f"call:twilio:{busy}"].kind == "missed" and by_key[f"call:twilio:{busy}"].status == "open"
    malformed = await twilio.signed("/twilio/call-status", {"CallSid": "nope", "CallStatus": "completed"})
    assert malformed.status_code == 400


async def test_inbound_sms_creates_a_case_or_a_follow_up(twilio: TwilioClient, services: Services) -> None:
    first = {"MessageSid": sid("SM"), "AccountSid": ACCOUNT, "From": CALLER, "To": "+15005550006",
             "Body": "金屯镇社保窗口一直没人 #time_limited", "NumMedia": "0"}
    response = await twilio.signed("/twilio/sms", first)
    assert response.status_code == 200 and ET.fromstring(response.text).tag == "Response"
    assert (await twilio.signed("/twilio/sms", first)).status_code == 200
    async with services.store.read() as session:
        case = (await session.execute(select(Case))).scalar_one()
        ack = (await session.execute(select(OutboxMessage))).scalar_one()
    assert case.category == "time_limited" and case.reply_channel == "sms"
    assert ack.channel == "sms" and ack.kind == "acknowledgement" and case.code in ack.body
    follow = {**first, "MessageSid": sid("SM"), "Body": f"补充一下 {case.code.replace('-', '－')} 今天还是没人"}
    assert (await twilio.signed("/twilio/sms", follow)).status_code == 200
    stranger = {**follow, "MessageSid": sid("SM"), "From": "+8613911112222"}
    assert (await twilio.signed("/twilio/sms", stranger)).status_code == 200
    empty = {**first, "MessageSid": sid("SM"), "Body": "  "}
    assert (await twilio.signed("/twilio/sms", empty)).status_code == 200
    async with services.store.read() as session:
        cases = list((await session.execute(select(Case).order_by(Case.id))).scalars())
        messages = list((await session.execute(select(Message).order_by(Message.id))).scalars())
    assert len(cases) == 2, "a stranger quoting the code gets a case of their own"
    assert [m.case_id for m in messages] == [cases[0].id, cases[0].id, cases[1].id]
    assert messages[1].extra["medium"] == "sms"


async def _sent_row(services: Services, provider_ref: str | None, attempts: int = 1) -> int:
    def write(session):  # type: ignore[no-untyped-def]
        return enqueue(session, services.cipher, OutgoingMessage(
            channel="sms", kind="reply", recipient="13812345678", body="答复", dedup_key=f"t:{provider_ref}"))

    outbox_id = await services.store.run_write(write)
    async with services.store.write() as session:
        row = await session.get(OutboxMessage, outbox_id)
        row.status, row.provider_ref, row.attempts = SENT, provider_ref, attempts
    return outbox_id


async def test_delivery_reports_update_the_outbox(twilio: TwilioClient, services: Services) -> None:
    message = sid("SM")
    outbox_id = await _sent_row(services, message)

    async def report(status: str, *, sms: str = message, error: str | None = None, row: int = outbox_id) -> int:
        params = {"MessageSid": sms, "MessageStatus": status, "AccountSid": ACCOUNT,
                  **({"ErrorCode": error} if error else {})}
        return (await twilio.signed("/twilio/sms-status", params, query=f"outbox={row}")).status_code

    assert await report("delivered") == 204
    assert await report("sent") == 204  # late and out of order: ignored
    async with services.store.read() as session:
        row = await session.get(OutboxMessage, outbox_id)
    assert row.status == SENT and row.payload["delivery_status"] == "delivered"
    assert await report("delivered", sms=sid("SM")) == 404  # another message's SID
    # Undelivered for a passing reason: back in the queue; the old SID's later reports are ignored.
    retry_id = await _sent_row(services, retried := sid("SM"))
    assert await report("undelivered", sms=retried, error="30003", row=retry_id) == 204
    assert await report("delivered", sms=retried, row=retry_id) == 204
    # A landline can never receive SMS: failed for good, with the reason.
    landline_id = await _sent_row(services, landline := sid("SM"))
    assert await report("undelivered", sms=landline, error="30006", row=landline_id) == 204
    async with services.store.read() as session:
        retry_row = await session.get(OutboxMessage, retry_id)
        landline_row = await session.get(OutboxMessage, landline_id)
    assert retry_row.status == PENDING and retry_row.provider_ref is None
    assert retry_row.payload["superseded_sids"] == [retried] and "30003" in retry_row.last_error
    assert landline_row.status == FAILED and landline_row.last_error == "短信未送达（Twilio undelivered 30006）"
    assert TOKEN not in str(retry_row.payload)


async def test_sms_answer_without_code_joins_the_thread_and_status_after_recording(
        twilio: TwilioClient, services: Services) -> None:
    call = sid("CA")
    assert (await twilio.signed("/twilio/recording", recording(call))).status_code == 200
    status = {"CallStatus": "completed", "CallDuration": "50"}
    assert (await twilio.signed("/twilio/call-status", voice_params(call, **status))).status_code == 204
    async with services.store.read() as session:
        case = (await session.execute(select(Case))).scalar_one()
        stored = (await session.execute(select(PhoneCall))).scalar_one()
        assert (await session.execute(select(CallbackTask))).first() is None
    assert stored.case_id == case.id and stored.outcome == "answered"
    # We texted the caller about the case; their answer quotes no code but joins the case.
    async with services.store.write() as session:
        session.add(Message(case_id=case.id, direction="out", channel="sms", source_ref=sid("SM"),
                            at=datetime.now(UTC), author="system:sms", text="您的意见已受理", extra={}))
    answer = {"MessageSid": sid("SM"), "AccountSid": ACCOUNT, "From": CALLER, "Body": "好的，谢谢，明天我再去一次"}
    assert (await twilio.signed("/twilio/sms", answer)).status_code == 200
    async with services.store.read() as session:
        assert len((await session.execute(select(Case))).all()) == 1
        inbound = (await session.execute(
            select(Message).where(Message.source_ref == answer["MessageSid"]))).scalar_one()
    assert inbound.case_id == case.id
