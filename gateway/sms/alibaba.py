"""Alibaba Cloud SMS (短信服务, dysmsapi 2017-05-25) through its SDK ``alibabacloud-dysmsapi20170525``.

``SendSms`` takes the signature, the template code and the parameters as JSON; ``OutId`` carries
our outbox id.  Business refusals come back as HTTP 200 with ``Code`` other than ``OK``; wrong keys
and throttling as HTTP 4xx (the SDK raises).  The SDK signs every request with ACS3-HMAC-SHA256;
``HCP_SMS_ENDPOINT`` (and ``HCP_SMS_ENDPOINT_SCHEME``) point it at a local fake in tests.  Its own
retries are off: the outbox retries with backoff and records each attempt.

Delivery: ``QuerySendDetails`` by number, BizId and send date answers ``SendStatus`` 1 (waiting),
2 (failed, with the carrier's ``ErrCode``) or 3 (delivered); ``gateway.sms.jobs`` asks it for every
message still waiting.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from alibabacloud_dysmsapi20170525 import models
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi.models import Config
from darabonba.runtime import RuntimeOptions
from Tea.exceptions import TeaException

from gateway.core.settings import Settings
from gateway.sms.content import SmsContent
from gateway.sms.providers import Outcome, refused

ENDPOINT = "dysmsapi.aliyuncs.com"
_CLASSES = (
    # (code prefix or exact code, error class); first match wins
    ("isv.MOBILE_NUMBER_ILLEGAL", "invalid_number"), ("isv.MOBILE_COUNT_OVER_LIMIT", "invalid_number"),
    ("isv.BLACK_KEY_CONTROL_LIMIT", "rejected"), ("isv.PHONE_BLACK", "invalid_number"),
    ("isv.BUSINESS_LIMIT_CONTROL", "rate_limit"), ("isv.DAY_LIMIT_CONTROL", "rate_limit"),
    ("isv.MONTH_LIMIT_CONTROL", "rate_limit"), ("Throttling", "rate_limit"),
    ("isv.AMOUNT_NOT_ENOUGH", "balance"), ("isv.OUT_OF_SERVICE", "balance"),
    ("isv.SMS_TEMPLATE_ILLEGAL", "template"), ("isv.SMS_SIGNATURE_ILLEGAL", "template"),
    ("isv.TEMPLATE_MISSING_PARAMETERS", "template"), ("isv.INVALID_JSON_PARAM", "template"),
    ("isv.PARAM_LENGTH_LIMIT", "template"), ("isv.INVALID_PARAMETERS", "template"),
    ("isv.SMS_SIGNATURE_SCENE_ILLEGAL", "template"), ("isv.SMS_TEMPLATE", "template"), ("isv.SMS_SIGN", "template"),
    ("InvalidAccessKeyId", "auth"), ("SignatureDoesNotMatch", "auth"), ("Forbidden", "auth"),
    ("isv.ACCOUNT_NOT_EXISTS", "auth"), ("isv.ACCOUNT_ABNORMAL", "auth"), ("isp.RAM_PERMISSION_DENY", "auth"),
    ("isp.", "provider_down"), ("ServiceUnavailable", "provider_down"), ("InternalError", "provider_down"),
)


def error_class(code: str, status: int = 200) -> str:
    """The error class of an Alibaba code (unknown codes: ``provider_down`` on 5xx, else ``rejected``)."""
    for prefix, cls in _CLASSES:
        if code.startswith(prefix):
            return cls
    return "provider_down" if status >= 500 else "rejected"


@dataclass(frozen=True, slots=True)
class Detail:
    """One ``QuerySendDetails`` record: ``status`` 1 waiting, 2 failed, 3 delivered."""

    status: int
    error_code: str | None
    out_id: str | None
    received_at: str | None


class AlibabaSms:
    name = "alibaba"

    def __init__(self, settings: Settings, *, timeout_ms: int = 10_000) -> None:
        if not (settings.sms_key_id and settings.sms_key_secret and settings.sms_sign_name):
            raise RuntimeError("Alibaba SMS needs HCP_SMS_KEY_ID, HCP_SMS_KEY_SECRET and HCP_SMS_SIGN_NAME")
        self.sign_name = settings.sms_sign_name
        self.client = Client(Config(
            access_key_id=settings.sms_key_id, access_key_secret=settings.sms_key_secret.get_secret_value(),
            endpoint=settings.sms_endpoint or ENDPOINT, protocol=settings.sms_endpoint_scheme))
        self.timeout_ms = timeout_ms

    def _runtime(self) -> RuntimeOptions:
        return RuntimeOptions(autoretry=False, max_attempts=0, read_timeout=self.timeout_ms,
                              connect_timeout=self.timeout_ms)

    async def send(self, to: str, content: SmsContent, ref: str) -> Outcome:
        request = models.SendSmsRequest(
            phone_numbers=to, sign_name=self.sign_name, template_code=content.template,
            template_param=json.dumps(content.param_map, ensure_ascii=False), out_id=ref)
        try:
            response = await self.client.send_sms_with_options_async(request, self._runtime())
        except TeaException as exc:
            return _from_exception(exc)
        except (OSError, TimeoutError) as exc:
            return refused("provider_down", None, type(exc).__name__)
        body = response.body
        if body is None or body.code != "OK" or not body.biz_id:
            code = (body.code if body else None) or "-"
            return refused(error_class(code), code, (body.message if body else None) or "")
        return Outcome(ok=True, message_id=body.biz_id)

    async def details(self, to: str, biz_id: str, sent: datetime) -> list[Detail]:
        """The delivery records of one message (``sent`` in Asia/Shanghai gives the day to ask about)."""
        request = models.QuerySendDetailsRequest(phone_number=to, biz_id=biz_id, send_date=f"{sent:%Y%m%d}",
                                                 page_size=10, current_page=1)
        response = await self.client.query_send_details_with_options_async(request, self._runtime())
        body = response.body
        if body is None or body.code != "OK":
            raise RuntimeError(f"QuerySendDetails: {(body.code if body else None) or '-'}")
        records = body.sms_send_detail_dtos.sms_send_detail_dto if body.sms_send_detail_dtos else None
        return [Detail(int(r.send_status or 1), r.err_code, r.out_id, r.receive_date) for r in records or []]


def _from_exception(exc: TeaException) -> Outcome:
    code = str(getattr(exc, "code", None) or "") or None
    data = getattr(exc, "data", None) or {}
    status = int(data.get("statusCode") or getattr(exc, "status_code", None) or 0) if isinstance(data, dict) else 0
    if code is None:  # no answer at all: connection refused, timeout
        return refused("provider_down", None, str(getattr(exc, "message", "") or type(exc).__name__))
    message = str(data.get("Message") or "") if isinstance(data, dict) else ""
    return refused(error_class(code, status), code, f"HTTP {status}: {message}" if status else message)
