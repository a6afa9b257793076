"""SMS through Twilio's REST API (one of the providers behind ``gateway.sms``), and its status callbacks.

``TwilioSms`` uses the twilio library's own ``Client`` with its asyncio HTTP client;
``HCP_TWILIO_API_BASE_URL`` points it elsewhere (the tests' local fake API).  Each message asks
Twilio to report delivery to ``/twilio/sms-status?outbox=ID``; ``twilio_report`` turns a report into
the provider-neutral ``gateway.sms.delivery.Report`` (an ``undelivered`` report for a passing reason
puts the row back in the queue; a number that can never receive SMS fails it for good).

Numbers reach Twilio in E.164 and never appear in logs or in stored error texts.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from channels.phone.numbers import to_e164
from channels.phone.twilio import SMS_STATUS_ORDER, public_request_url
from gateway.core.settings import Settings
from gateway.sms.content import SmsContent
from gateway.sms.delivery import Report
from gateway.sms.providers import Outcome, refused
from gateway.sms.providers import scrub as scrub

# Twilio error codes after which resending can never help (bad number, landline, opted out, blocked).
PERMANENT_ERRORS = frozenset({"21211", "21217", "21407", "21408", "21610", "21612", "21614", "30004", "30005",
                              "30006", "30007"})
def twilio_configured(settings: Settings) -> bool:
    return bool(settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from)


def make_client(settings: Settings, http_client: Any | None = None) -> Client:
    """The twilio ``Client`` for the configured account, on ``HCP_TWILIO_API_BASE_URL`` if set."""
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        raise RuntimeError("Twilio is not configured (HCP_TWILIO_ACCOUNT_SID, HCP_TWILIO_AUTH_TOKEN)")
    client = Client(settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value(),
                    http_client=http_client)
    if settings.twilio_api_base_url:
        client.api.base_url = settings.twilio_api_base_url.rstrip("/")
    return client


class TwilioSms:
    """The ``SmsProvider`` for Twilio (free text; the signature is ``HCP_PHONE_SMS_SIGNATURE``)."""

    name = "twilio"

    def __init__(self, settings: Settings, *, timeout: float = 30.0) -> None:
        if not twilio_configured(settings):
            raise RuntimeError("Twilio is not configured (HCP_TWILIO_ACCOUNT_SID, HCP_TWILIO_AUTH_TOKEN, "
                               "HCP_TWILIO_FROM)")
        # The twilio library logs each request's parameters and the answer's headers at INFO.
        logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
        self.settings = settings
        self.timeout = timeout

    async def send(self, to: str, content: SmsContent, ref: str) -> Outcome:
        status_url = public_request_url(self.settings.public_url, "/twilio/sms-status", f"outbox={ref}")
        async with AsyncTwilioHttpClient(timeout=self.timeout) as http:
            client = make_client(self.settings, http)
            try:
                sent = await client.messages.create_async(
                    to=to_e164(to), from_=self.settings.twilio_from, body=content.text, status_callback=status_url)
            except TwilioRestException as exc:
                code = str(exc.code or "")
                return refused(error_class(code, exc.status), code or None, f"HTTP {exc.status}: {exc.msg}")
            except (aiohttp.ClientError, OSError, TimeoutError, TwilioException) as exc:
                return refused("provider_down", None, f"{type(exc).__name__}: {exc}")
        return Outcome(ok=True, message_id=sent.sid)

    async def already_sent(self, to: str, content: SmsContent, since: datetime) -> str | None:
        """The SID of this message if Twilio already has it: same number and text, created since an
        interrupted attempt began (less a minute for clock skew).  The same text to the same number
        within that minute counts as one."""
        earliest = since - timedelta(seconds=60)
        async with AsyncTwilioHttpClient(timeout=self.timeout) as http:
            listed = await make_client(self.settings, http).messages.list_async(
                to=to_e164(to), date_sent_after=earliest, limit=200)
        same = (m for m in listed if m.body == content.text and (m.date_created is None or m.date_created >= earliest))
        return next((m.sid for m in same), None)


def error_class(code: str, status: int) -> str:
    """The error class of a Twilio REST refusal."""
    if code in PERMANENT_ERRORS:
        return "invalid_number"
    if code in ("20003", "20005") or status in (401, 403):
        return "auth"
    if code == "20429" or status == 429:
        return "rate_limit"
    if code.startswith("301") or code in ("21606", "21659"):  # the sending number may not send there
        return "rejected"
    return "provider_down" if status >= 500 else "rejected"


def twilio_report(sid: str, status: str, error_code: str | None, outbox_id: int | None) -> Report:
    """A Twilio status callback as a delivery report.  Twilio says ``undelivered`` for passing reasons
    too (a phone switched off), so those are resent within the outbox's budget; a number that can
    never receive SMS is failed for good."""
    state = {"delivered": "delivered", "read": "delivered", "undelivered": "failed", "failed": "failed",
             "canceled": "failed"}.get(status, "sent")
    return Report(provider="twilio", message_id=sid, state=state, rank=SMS_STATUS_ORDER.get(status, 0),
                  raw=status, error_code=error_code, outbox_id=outbox_id,
                  resend=(error_code or "") not in PERMANENT_ERRORS)
