"""Tencent Cloud SMS (短信, API 2021-01-11) through its SDK ``tencentcloud-sdk-python-sms`` (async client).

``SendSms`` takes the SDK app id, the signature, the template id and the parameters in template
order; ``SessionContext`` carries our outbox id.  A refusal of the request (wrong keys, bad
parameters, throttling) comes back as ``Response.Error`` (the SDK raises); a refusal of one number
as that number's ``SendStatusSet`` entry with ``Code`` other than ``Ok``.  The SDK signs with
TC3-HMAC-SHA256; ``HCP_SMS_ENDPOINT`` points it at a local fake in tests.

Delivery: Tencent POSTs status reports (a JSON array, ``report_status`` SUCCESS or FAIL with the
carrier's ``errmsg``) to the callback URL set in its console; ``parse_reports`` reads them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import httpx
from tencentcloud.common.credential import Credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models
from tencentcloud.sms.v20210111.sms_client_async import SmsClient

from gateway.core.settings import Settings
from gateway.sms.content import SmsContent
from gateway.sms.providers import Outcome, refused

ENDPOINT = "sms.tencentcloudapi.com"
_CLASSES = (
    ("AuthFailure", "auth"), ("UnauthorizedOperation", "auth"),
    ("InvalidParameterValue.IncorrectPhoneNumber", "invalid_number"),
    ("FailedOperation.PhoneNumberInBlacklist", "invalid_number"),
    ("FailedOperation.PhoneNumberParseFail", "invalid_number"),
    ("UnsupportedOperation.UnsupportedRegion", "invalid_number"),
    ("LimitExceeded", "rate_limit"), ("RequestLimitExceeded", "rate_limit"),
    ("FailedOperation.InsufficientBalanceInSmsPackage", "balance"),
    ("FailedOperation.TemplateIncorrectOrUnapproved", "template"),
    ("FailedOperation.SignatureIncorrectOrUnapproved", "template"),
    ("InvalidParameterValue.TemplateParameter", "template"),
    ("InvalidParameterValue.ProhibitedUseUrlInTemplateParameter", "template"),
    ("FailedOperation.MissingSignature", "template"), ("FailedOperation.MissingTemplate", "template"),
    ("InvalidParameterValue.SdkAppIdNotExist", "auth"),
    ("InternalError", "provider_down"), ("ServerNetworkError", "provider_down"),
    ("ClientNetworkError", "provider_down"),
)


def error_class(code: str) -> str:
    for prefix, cls in _CLASSES:
        if code.startswith(prefix):
            return cls
    return "rejected"


class TencentSms:
    name = "tencent"

    def __init__(self, settings: Settings, *, timeout: int = 10) -> None:
        if not (settings.sms_key_id and settings.sms_key_secret and settings.sms_sign_name and settings.sms_app_id):
            raise RuntimeError("Tencent SMS needs HCP_SMS_KEY_ID, HCP_SMS_KEY_SECRET, HCP_SMS_SIGN_NAME and "
                               "HCP_SMS_APP_ID")
        # The SDK logs whole requests (with the numbers) at DEBUG: never let it, whatever the log level.
        logging.getLogger("tencentcloud_sdk_common").setLevel(logging.WARNING)
        self.settings = settings
        self.credential = Credential(settings.sms_key_id, settings.sms_key_secret.get_secret_value())
        self.profile = ClientProfile(httpProfile=HttpProfile(
            endpoint=settings.sms_endpoint or ENDPOINT, protocol=settings.sms_endpoint_scheme, reqTimeout=timeout))
        self._sdk: SmsClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _client(self) -> SmsClient:
        """One SDK client (one httpx connection pool) per event loop: building one costs about 100 ms."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._sdk is None:
            self._sdk, self._loop = SmsClient(self.credential, self.settings.sms_region, self.profile), loop
        return self._sdk

    async def send(self, to: str, content: SmsContent, ref: str) -> Outcome:
        request = models.SendSmsRequest()
        request.PhoneNumberSet = ["+86" + to]
        request.SmsSdkAppId = self.settings.sms_app_id
        request.SignName = self.settings.sms_sign_name
        request.TemplateId = content.template
        request.TemplateParamSet = [value for _, value in content.params]
        request.SessionContext = ref
        client = self._client()
        try:
            response = await client.SendSms(request)
        except TencentCloudSDKException as exc:
            code = exc.get_code() or "-"
            message = exc.get_message()
            detail = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message or "")
            return refused(error_class(code), code, detail)
        except (httpx.HTTPError, OSError, TimeoutError) as exc:
            return refused("provider_down", None, type(exc).__name__)
        entries = response.SendStatusSet or []
        if not entries:
            return refused("provider_down", None, "empty SendStatusSet")
        entry = entries[0]
        if (entry.Code or "") != "Ok" or not entry.SerialNo:
            code = entry.Code or "-"
            return refused(error_class(code), code, entry.Message or "")
        return Outcome(ok=True, message_id=entry.SerialNo)


def parse_reports(data: Any) -> Iterator[tuple[str, bool, str | None]]:
    """``(serial number, delivered?, carrier code)`` for each well-formed report of a callback body."""
    if not isinstance(data, list):
        raise ValueError("a Tencent status callback is a JSON array")
    for item in data:
        if not isinstance(item, dict) or not item.get("sid") or item.get("report_status") not in ("SUCCESS", "FAIL"):
            continue
        yield str(item["sid"]), item["report_status"] == "SUCCESS", str(item.get("errmsg") or "") or None
