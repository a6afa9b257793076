"""SMS out through Twilio's REST API, and the delivery status callbacks that follow.

``TwilioSmsSender`` is the outbox's sender for channel ``sms`` (acknowledgements with the tracking
code, staff replies).  It uses the twilio library's own ``Client`` with its asyncio HTTP client;
``HCP_TWILIO_API_BASE_URL`` points it elsewhere (the tests' local fake API).  Each message asks
Twilio to report delivery to ``/twilio/sms-status?outbox=ID``; Twilio's answers only move forward
(``queued`` → ``sent`` → ``delivered``), an ``undelivered``/``failed`` report puts the row back in the
queue with the outbox's backoff, or fails it for good when the number can never receive SMS.

Numbers reach Twilio in E.164 and never appear in logs or in stored error texts.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
from sqlalchemy import select, update
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from channels.phone.numbers import is_mobile, to_e164
from channels.phone.twilio import SMS_STATUS_ORDER, public_request_url
from gateway.core.db.dialect import insert_for
from gateway.core.db.models import Message, OutboxMessage
from gateway.core.outbox import FAILED, PENDING, SENDING, SENT, OutgoingMessage, SendResult, backoff
from gateway.core.settings import Settings
from gateway.phone.options import PhoneOptions

if TYPE_CHECKING:
    from gateway.core.services import Services

log = logging.getLogger(__name__)
HANDING = "handing:"  # provider_ref of a row whose request to Twilio may be under way
MAX_BODY = 1600
# Twilio error codes after which resending can never help (bad number, landline, opted out, blocked).
PERMANENT_ERRORS = frozenset({"21211", "21217", "21407", "21408", "21610", "21612", "21614", "30004", "30005",
                              "30006", "30007"})
_NUMBERS = re.compile(r"\+?\d[\d\s-]{6,}\d")


def scrub(text: str) -> str:
    """An error text with telephone numbers removed (Twilio quotes the number it refused)."""
    return _NUMBERS.sub("[号码]", text)[:500]


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


class TwilioSmsSender:
    """The outbox ``Sender`` for channel ``sms``."""

    def __init__(self, services: Services, options: PhoneOptions | None = None, *, timeout: float = 30.0) -> None:
        if not twilio_configured(services.settings):
            raise RuntimeError("Twilio is not configured (HCP_TWILIO_ACCOUNT_SID, HCP_TWILIO_AUTH_TOKEN, "
                               "HCP_TWILIO_FROM)")
        self.services = services
        self.settings = services.settings
        self.options = options or PhoneOptions()
        self.timeout = timeout

    def body_of(self, message: OutgoingMessage) -> str:
        body = message.body.strip()
        signature = self.options.sms_signature
        if signature and not body.startswith(signature):
            body = signature + body
        return body[:MAX_BODY]

    async def send(self, message: OutgoingMessage) -> SendResult:
        if not is_mobile(message.recipient):
            return SendResult(ok=False, error="recipient is not a mobile number (fixed lines get no SMS)",
                              permanent=True)
        if message.outbox_id is None:
            return SendResult(ok=False, error="outgoing SMS without an outbox id", permanent=True)
        status_url = public_request_url(self.settings.public_url, "/twilio/sms-status", f"outbox={message.outbox_id}")
        async with AsyncTwilioHttpClient(timeout=self.timeout) as http:
            client = make_client(self.settings, http)
            since = await self._interrupted_since(message.outbox_id)
            if since is not None:  # an earlier attempt stopped after handing over, maybe after Twilio took it
                try:
                    earlier = await self._already_sent(client, message, since)
                except (TwilioException, aiohttp.ClientError, OSError, TimeoutError) as exc:
                    return SendResult(ok=False, error=scrub(f"checking an interrupted attempt: {type(exc).__name__}"))
                if earlier is not None:
                    await self._record_outbound(message, earlier)
                    return SendResult(ok=True, provider_ref=earlier)
            await self._mark_handing(message.outbox_id)
            try:
                sent = await client.messages.create_async(
                    to=to_e164(message.recipient), from_=self.settings.twilio_from, body=self.body_of(message),
                    status_callback=status_url)
            except TwilioRestException as exc:
                code = str(exc.code or "")
                permanent = code in PERMANENT_ERRORS or (400 <= exc.status < 500 and exc.status != 429)
                return SendResult(ok=False, error=f"Twilio error {code or '-'} (HTTP {exc.status}): {scrub(exc.msg)}",
                                  permanent=permanent)
            except (aiohttp.ClientError, OSError, TimeoutError, TwilioException) as exc:
                return SendResult(ok=False, error=scrub(f"{type(exc).__name__}: {exc}"))
        await self._record_outbound(message, sent.sid)
        return SendResult(ok=True, provider_ref=sent.sid)

    async def _interrupted_since(self, outbox_id: int) -> datetime | None:
        """When an earlier attempt of this row started handing it to Twilio without an outcome recorded."""
        async with self.services.store.read() as session:
            ref = (await session.execute(select(OutboxMessage.provider_ref)
                                         .where(OutboxMessage.id == outbox_id))).scalar_one_or_none()
        if not ref or not ref.startswith(HANDING):
            return None
        return datetime.fromisoformat(ref.removeprefix(HANDING))

    async def _mark_handing(self, outbox_id: int) -> None:
        """Committed before the request: a worker killed after Twilio took the message leaves this mark,
        and the next attempt asks Twilio before sending (exactly once instead of a second SMS)."""
        async with self.services.store.write() as session:
            await session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id)
                                  .values(provider_ref=HANDING + datetime.now(UTC).isoformat()))

    async def _already_sent(self, client: Client, message: OutgoingMessage, since: datetime) -> str | None:
        """The SID of this message if Twilio has it: same number and body, created since the mark (less
        a minute for clock skew).  The same text to the same number within that minute counts as one."""
        body = self.body_of(message)
        earliest = since - timedelta(seconds=60)
        listed = await client.messages.list_async(to=to_e164(message.recipient), date_sent_after=earliest, limit=200)
        same = (m for m in listed if m.body == body and (m.date_created is None or m.date_created >= earliest))
        return next((m.sid for m in same), None)

    async def _record_outbound(self, message: OutgoingMessage, sid: str) -> None:
        """The sent SMS on the case's timeline (and the thread an SMS answer without a code joins)."""
        if message.case_id is None:
            return
        async with self.services.store.write() as session:
            await session.execute(insert_for(session)(Message).values(
                case_id=message.case_id, direction="out", channel="sms", source_ref=sid, at=datetime.now(UTC),
                author="system:sms", subject=message.subject, text=self.body_of(message), public=False,
                extra={"outbox_id": message.outbox_id, "kind": message.kind},
            ).on_conflict_do_nothing(index_elements=[Message.channel, Message.source_ref]))


async def apply_sms_status(services: Services, *, sid: str, status: str, error_code: str | None,
                           outbox_id: int | None) -> str:
    """Apply one delivery report to its outbox row: ``updated``, ``stale``, ``requeued``, ``failed`` or
    ``unknown`` (no such row, or the SID belongs to another message)."""
    settings = services.settings
    now = datetime.now(UTC)
    async with services.store.write() as session:
        query = select(OutboxMessage).where(OutboxMessage.channel == "sms")
        query = (query.where(OutboxMessage.id == outbox_id) if outbox_id is not None
                 else query.where(OutboxMessage.provider_ref == sid))
        row = (await session.execute(query.with_for_update())).scalar_one_or_none()
        if row is None:
            return "unknown"
        payload = dict(row.payload or {})
        superseded = list(payload.get("superseded_sids", []))
        if sid in superseded:
            return "stale"
        known = row.provider_ref if row.provider_ref and not row.provider_ref.startswith(HANDING) else None
        if known and known != sid:
            return "unknown"
        previous = payload.get("delivery_status")
        if previous and SMS_STATUS_ORDER.get(status, 0) < SMS_STATUS_ORDER.get(previous, 0):
            return "stale"
        if known is None:
            row.provider_ref = sid  # the report raced ahead of the sender's own bookkeeping
        payload.update(delivery_status=status, delivery_at=now.isoformat(), delivery_error=error_code)
        outcome = "updated"
        if status in ("undelivered", "failed") and row.status in (SENT, PENDING):
            reason = f"短信未送达（Twilio {status}{' ' + error_code if error_code else ''}）"
            row.last_error = reason
            if (error_code or "") in PERMANENT_ERRORS or row.attempts >= settings.outbox_max_attempts:
                row.status = FAILED
                outcome = "failed"
            else:
                row.status = PENDING
                row.next_attempt_at = now + backoff(row.attempts, settings.outbox_backoff_seconds)
                payload["superseded_sids"] = [*superseded, sid]
                payload["delivery_status"] = None
                row.provider_ref = None
                outcome = "requeued"
        elif status in ("undelivered", "failed") and row.status == SENDING:
            outcome = "updated"  # a resend is under way; its own result decides
        row.payload = payload
        return outcome
