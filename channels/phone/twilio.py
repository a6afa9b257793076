"""Twilio, pure: signature checks, TwiML for the voice mailbox, and webhook payloads → ``Intake``.

Twilio signs every webhook with ``X-Twilio-Signature`` (HMAC of the URL it called plus the sorted
POST parameters).  Behind a TLS proxy the app sees ``http://127.0.0.1:8000/twilio/voice`` while
Twilio signed ``https://hall.example.gov.cn/twilio/voice``, so the URL is rebuilt from the
configured public URL, never from the request's Host header (which a caller controls).

The voice mailbox: ``<Say language="zh-CN">`` greets the caller, ``<Record>`` takes a message of
limited length, and the recording / transcription callbacks carry the ``CallSid`` that becomes the
intake's ``source_ref`` (so the two callbacks, and Twilio's retries, make one case).  Twilio's
built-in transcription does not understand Mandarin well, so a message without a transcript is
stored with its recording URL and flagged for a person to listen to, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from channels.intake import Intake
from channels.phone.numbers import DEFAULT_AREA_CODE, CallerNumberError, is_mobile, normalize_caller

CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")
RECORDING_SID = re.compile(r"^RE[0-9a-fA-F]{32}$")
DEFAULT_GREETING = ("您好，这里是嘉祥县政务服务好差评热线。请在提示音后说出您要反映的问题、办事的乡镇和您的姓名，"
                    "说完请按井号键或直接挂机。我们会尽快与您联系。")
THANKS = "您的留言已收到，我们会尽快处理并与您联系。再见。"
NO_MESSAGE = "没有收到您的留言。您也可以在工作时间再次来电。再见。"
PLACEHOLDER = "【电话留言】录音 {seconds} 秒，尚未转写，请听取录音。"


class TwilioPayloadError(ValueError):
    """A webhook whose parameters are missing or malformed (answered with 400)."""


# ----- signatures -------------------------------------------------------------------------------------

def public_request_url(public_url: str, path: str, query: str = "") -> str:
    """The URL Twilio called: the configured public base (scheme, host, any path prefix) + path + query."""
    base = urlsplit(public_url.strip())
    if base.scheme not in ("http", "https") or not base.netloc:
        raise ValueError(f"public URL {public_url!r} must look like https://host[/prefix]")
    prefix = base.path.rstrip("/")
    return f"{base.scheme}://{base.netloc}{prefix}{path}" + (f"?{query}" if query else "")


def signature_valid(auth_token: str, url: str, params: Mapping[str, Any] | Any, signature: str | None,
                    signature_settings: str | None = None) -> bool:
    """Whether ``signature`` (the ``X-Twilio-Signature`` header) signs ``url`` and ``params``.

    ``signature_settings`` is the optional ``X-Twilio-Webhooks-Signature-Settings`` header that
    names HMAC-SHA256 for webhooks signed with a shared key.
    """
    if not signature or not auth_token:
        return False
    validator = RequestValidator(auth_token)
    return bool(validator.validate(url, params, signature, get_signature_algorithm(signature_settings)))


def sign(auth_token: str, url: str, params: Mapping[str, Any]) -> str:
    """Twilio's signature of a request (for tests and for checking a deployment by hand)."""
    return RequestValidator(auth_token).compute_signature(url, params)


# ----- TwiML ----------------------------------------------------------------------------------------------

def voice_twiml(*, greeting: str, max_length: int, recording_url: str, transcription_url: str | None) -> str:
    """Answer a call: greet in Mandarin, record one message, and say goodbye if nothing was recorded.

    ``recording_url`` receives both the ``<Record action>`` request (which must answer TwiML) and the
    asynchronous ``recordingStatusCallback``; ``transcription_url`` the transcript, when enabled.
    """
    if not 5 <= max_length <= 3600:
        raise ValueError("max_length must be between 5 and 3600 seconds")
    response = VoiceResponse()
    response.say(greeting, language="zh-CN")
    options: dict[str, Any] = {
        "max_length": max_length, "play_beep": True, "finish_on_key": "#", "timeout": 10, "method": "POST",
        "action": recording_url, "recording_status_callback": recording_url,
        "recording_status_callback_method": "POST", "recording_status_callback_event": "completed",
    }
    if transcription_url:
        options.update(transcribe=True, transcribe_callback=transcription_url)
    response.record(**options)
    response.say(NO_MESSAGE, language="zh-CN")
    response.hangup()
    return str(response)


def goodbye_twiml() -> str:
    """The answer to ``<Record action>``: thank the caller and hang up."""
    response = VoiceResponse()
    response.say(THANKS, language="zh-CN")
    response.hangup()
    return str(response)


def empty_messaging_twiml() -> str:
    """No automatic SMS answer: the acknowledgement goes through the outbox (retried, recorded)."""
    return str(MessagingResponse())


# ----- payloads ----------------------------------------------------------------------------------------------

def _param(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    return value.strip() if isinstance(value, str) else ""


def call_sid(params: Mapping[str, Any]) -> str:
    sid = _param(params, "CallSid")
    if not CALL_SID.match(sid):
        raise TwilioPayloadError("CallSid is missing or malformed")
    return sid


def caller_of(params: Mapping[str, Any], *, area_code: str = DEFAULT_AREA_CODE) -> str | None:
    """The caller's canonical number, ``None`` when withheld or not a Chinese number we can call."""
    try:
        return normalize_caller(_param(params, "From") or None, area_code=area_code)
    except CallerNumberError:
        return None


def _contact(phone: str | None) -> dict[str, Any]:
    if not phone:
        return {}
    return {"phone": phone, "preferred_channel": "sms" if is_mobile(phone) else "phone"}


def _twilio_time(value: str, fallback: datetime) -> datetime:
    if not value:
        return fallback
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return fallback
    return moment if moment.tzinfo else fallback


def recording_of(params: Mapping[str, Any]) -> dict[str, Any]:
    """The recording's SID, URL and length from a recording or transcription callback."""
    url = _param(params, "RecordingUrl")
    if url and not url.startswith("https://"):
        raise TwilioPayloadError("RecordingUrl must be an https URL")
    sid = _param(params, "RecordingSid")
    if sid and not RECORDING_SID.match(sid):
        raise TwilioPayloadError("RecordingSid is malformed")
    seconds = _param(params, "RecordingDuration")
    return {"recording_url": url or None, "recording_sid": sid or None,
            "recording_seconds": int(seconds) if seconds.isdigit() else None}


def voice_intake(params: Mapping[str, Any], *, received_at: datetime, transcript: str | None = None,
                 area_code: str = DEFAULT_AREA_CODE) -> Intake:
    """A voice message as an intake: the transcript when there is one, else a placeholder that says
    a recording waits to be heard.  The recording URL and length are kept in ``extra``."""
    sid = call_sid(params)
    recording = recording_of(params)
    transcript = (transcript or "").strip()
    text = transcript or PLACEHOLDER.format(seconds=recording["recording_seconds"] or "?")
    started = _twilio_time(_param(params, "RecordingStartTime"), received_at)
    return Intake.build(
        channel="phone", source_ref=sid, received_at=started, text=text,
        contact=_contact(caller_of(params, area_code=area_code)),
        extra={"medium": "voicemail", **recording, "transcribed": bool(transcript)},
    )


def tracking_code_in(text: str, prefix: str) -> str | None:
    """A tracking code quoted in a message (``JX20261128-0007``, spaces and full-width dash allowed)."""
    match = re.search(rf"({re.escape(prefix)})\s*(\d{{8}})\s*[-－—]\s*(\d{{4}})", text.upper())
    return f"{match.group(1)}{match.group(2)}-{match.group(3)}" if match else None


def sms_intake(params: Mapping[str, Any], *, received_at: datetime, tracking_prefix: str,
               open_case_code: str | None = None, area_code: str = DEFAULT_AREA_CODE) -> Intake:
    """An inbound SMS: a new case, or a follow-up when it quotes a tracking code (or answers an SMS
    we sent about ``open_case_code``).  The ingestor attaches it only if the number matches the case."""
    sid = _param(params, "MessageSid") or _param(params, "SmsSid")
    if not MESSAGE_SID.match(sid):
        raise TwilioPayloadError("MessageSid is missing or malformed")
    body = _param(params, "Body")
    phone = caller_of(params, area_code=area_code)
    code = tracking_code_in(body, tracking_prefix) or (open_case_code if phone else None)
    media = _param(params, "NumMedia")
    return Intake.build(
        channel="phone", source_ref=sid, received_at=received_at, text=body,
        contact=_contact(phone), tracking_code=code,
        extra={"medium": "sms", "num_media": int(media) if media.isdigit() else 0},
    )


SMS_STATUS_ORDER = {"accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3, "delivered": 4,
                    "undelivered": 4, "failed": 4, "read": 5, "canceled": 4}


def sms_status(params: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """``(MessageSid, status, error code)`` from a delivery status callback."""
    sid = _param(params, "MessageSid") or _param(params, "SmsSid")
    if not MESSAGE_SID.match(sid):
        raise TwilioPayloadError("MessageSid is missing or malformed")
    status = (_param(params, "MessageStatus") or _param(params, "SmsStatus")).lower()
    if status not in SMS_STATUS_ORDER:
        raise TwilioPayloadError(f"unknown MessageStatus {status!r}")
    return sid, status, _param(params, "ErrorCode") or None
