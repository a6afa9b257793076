"""The pure hotline adapters: caller numbers, the call-log form, TwiML, signatures and payloads."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from channels.phone.calllog import CallLogError, call_log_intake
from channels.phone.numbers import CallerNumberError, is_mobile, normalize_caller, to_e164
from channels.phone.twilio import (
    TwilioPayloadError,
    public_request_url,
    sign,
    signature_valid,
    sms_intake,
    sms_status,
    tracking_code_in,
    voice_intake,
    voice_twiml,
)
from tests.helpers import local

NOW = local(2026, 11, 27, 10, 0)


@pytest.mark.parametrize(("raw", "expected"), [
    ("138 1234 5678", "13812345678"), ("+86 138-1234-5678", "13812345678"), ("008613812345678", "13812345678"),
    ("013812345678", "13812345678"), ("0537-6851890", "0537-6851890"), ("(0537)6851890", "0537-6851890"),
    ("05376851890", "0537-6851890"), ("6851890", "0537-6851890"), ("+86 537 6851890", "0537-6851890"),
    ("１３８１２３４５６７８", "13812345678"), ("anonymous", None), ("", None), ("+266696687", None),
])
def test_caller_numbers_are_normalised(raw: str, expected: str | None) -> None:
    assert normalize_caller(raw) == expected


def test_extensions_are_not_callers_and_e164() -> None:
    with pytest.raises(CallerNumberError):
        normalize_caller("8001")
    assert normalize_caller("6851890", area_code="010") == "010-6851890"
    assert to_e164("13812345678") == "+8613812345678" and to_e164("0537-6851890") == "+865376851890"
    assert is_mobile("13812345678") and not is_mobile("0537-6851890")


def test_call_log_form_becomes_a_phone_intake() -> None:
    intake = call_log_intake({"call_id": "hl-0123456789ab", "phone": "+86 138 1234 5678", "name": "王小明",
                              "real_name": "on", "hall": "jintun", "window": "w01", "rating": "2",
                              "reasons": ["attitude", "efficiency"], "summary": "  窗口没人  "},
                             received_at=NOW, operator="op1")
    assert intake.channel == "phone" and intake.source_ref == "hl-0123456789ab" and intake.received_at == NOW
    assert intake.contact.phone == "13812345678" and intake.contact.real_name
    assert intake.contact.preferred_channel == "sms" and intake.rating.label == "不满意"
    assert intake.reasons == ("attitude", "efficiency") and intake.text == "窗口没人"
    assert intake.extra == {"medium": "hotline", "operator": "op1"}
    landline = call_log_intake({"call_id": "hl-0123456789ac", "phone": "6851890", "summary": "咨询"},
                               received_at=NOW, operator="op1")
    assert landline.contact.phone == "0537-6851890" and landline.contact.preferred_channel == "phone"
    anonymous = call_log_intake({"call_id": "hl-0123456789ad", "rating": "满意"}, received_at=NOW, operator="op1")
    assert anonymous.contact.is_empty and anonymous.rating.label == "满意"


@pytest.mark.parametrize(("form", "field", "words"), [
    ({"phone": "1381234"}, "phone", "手机号 11 位"),
    ({"real_name": "1"}, "real_name", "需要填写姓名"),
    ({"rating": "满意", "reasons": "attitude"}, "reasons", "只有“不满意”"),
    ({"reasons": ["fax"], "rating": "不满意"}, "reasons", "未知的原因代码 fax"),
    ({"summary": ""}, "summary", "请记录来电内容"),
    ({"phone": "0537-6851890", "preferred_channel": "sms"}, "preferred_channel", "固定电话收不到短信"),
    ({"phone": "", "preferred_channel": "phone"}, "preferred_channel", "没有来电号码"),
    ({"follow_up": "JX2026-1"}, "follow_up", "受理编号格式"),
    ({"call_id": "x"}, "call_id", "刷新页面"),
    ({"window": "w01"}, "window", "必须同时选择乡镇"),
])
def test_call_log_problems_name_the_field_in_chinese(form: dict, field: str, words: str) -> None:
    base = {"call_id": "hl-0123456789ab", "phone": "13812345678", "summary": "内容"}
    with pytest.raises(CallLogError) as caught:
        call_log_intake({**base, **form}, received_at=NOW, operator="op")
    assert words in caught.value.problems[field], caught.value.problems


def test_voice_twiml_parses_and_says_what_it_should() -> None:
    root = ET.fromstring(voice_twiml(greeting="您好，请留言。", max_length=90, recording_url="https://h/twilio/recording",
                                     transcription_url=None))
    assert [child.tag for child in root] == ["Say", "Record", "Say", "Hangup"]
    assert root[0].text == "您好，请留言。" and root[0].get("language") == "zh-CN"
    assert root[1].get("maxLength") == "90" and root[1].get("transcribe") is None
    assert root[1].get("playBeep") == "true" and root[1].get("method") == "POST"
    with pytest.raises(ValueError):
        voice_twiml(greeting="x", max_length=4000, recording_url="https://h/r", transcription_url=None)


def test_signature_check_uses_the_url_twilio_called() -> None:
    assert public_request_url("https://gov.example.cn/hcp/", "/twilio/voice", "a=1") == \
        "https://gov.example.cn/hcp/twilio/voice?a=1"
    url = public_request_url("https://gov.example.cn", "/twilio/voice")
    params = {"CallSid": "CA" + "a" * 32, "From": "+8613812345678"}
    signature = sign("token", url, params)
    assert signature_valid("token", url, params, signature)
    assert signature_valid("token", "https://gov.example.cn:443/twilio/voice", params, signature)
    assert not signature_valid("token", url, {**params, "From": "+8613800000000"}, signature)
    assert not signature_valid("token", "http://gov.example.cn/twilio/voice", params, signature)
    assert not signature_valid("other", url, params, signature)
    assert not signature_valid("token", url, params, None)
    assert not signature_valid("token", url, params, signature, "algorithm=HMAC_MD5")
    with pytest.raises(ValueError):
        public_request_url("gov.example.cn", "/twilio/voice")


def test_webhook_payloads_become_intakes() -> None:
    call = {"CallSid": "CA" + "b" * 32, "From": "+8613812345678", "RecordingUrl": "https://api.twilio.com/r/RE1",
            "RecordingDuration": "12", "RecordingStartTime": "Fri, 27 Nov 2026 02:00:00 +0000"}
    waiting = voice_intake(call, received_at=NOW)
    assert waiting.source_ref == call["CallSid"] and "录音 12 秒" in waiting.text
    assert waiting.received_at == datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    assert waiting.extra["recording_url"] == "https://api.twilio.com/r/RE1" and waiting.extra["transcribed"] is False
    assert voice_intake(call, received_at=NOW, transcript="没人办事").text == "没人办事"
    with pytest.raises(TwilioPayloadError):
        voice_intake({**call, "RecordingUrl": "http://evil.example/r"}, received_at=NOW)
    sms = sms_intake({"MessageSid": "SM" + "c" * 32, "From": "+8613812345678", "Body": "查询 jx20261127-0001 进度"},
                     received_at=NOW, tracking_prefix="JX")
    assert sms.tracking_code == "JX20261127-0001" and sms.contact.preferred_channel == "sms"
    hidden = sms_intake({"MessageSid": "SM" + "d" * 32, "From": "anonymous", "Body": "你好"}, received_at=NOW,
                        tracking_prefix="JX", open_case_code="JX20261127-0002")
    assert hidden.contact.is_empty and hidden.tracking_code is None
    assert tracking_code_in("编号 JX 20261127 — 0003", "JX") == "JX20261127-0003"
    assert sms_status({"MessageSid": "SM" + "e" * 32, "MessageStatus": "Delivered"}) == ("SM" + "e" * 32,
                                                                                         "delivered", None)
    with pytest.raises(TwilioPayloadError):
        sms_status({"MessageSid": "SM" + "e" * 32, "MessageStatus": "exploded"})
