"""The outbox ``Sender`` for channel ``sms``: one sender, the provider chosen by ``HCP_SMS_PROVIDER``.

Per message: refuse a fixed line (no SMS reaches it), build the content for its kind
(``gateway.sms.content``: a template and parameters, or Twilio's free text), hand it to the
provider, and turn the provider's ``Outcome`` into the outbox's ``SendResult`` by error class:
rate limits, an empty balance and outages are retried with the outbox's backoff; a refused
template, number or key fails the row for good (a person must act).  The stored error starts with
the class in Chinese, then the provider's code and its words without numbers.

Exactly once across a killed worker: before the provider is asked, the row's ``provider_ref`` is
marked ``handing:<time>`` in its own commit.  A row re-claimed with that mark was interrupted
mid-request; a provider that can tell (``already_sent``: Twilio lists its messages) is asked first,
and the message is sent again only when the provider does not have it.

The sent SMS is recorded on the case's timeline (and is the thread an SMS answer without a code
joins); its delivery report arrives later (``gateway.sms.delivery``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from channels.phone.numbers import is_mobile
from gateway.core.db.dialect import insert_for
from gateway.core.db.models import Message, OutboxMessage
from gateway.core.labels import SMS_ERROR_LABELS
from gateway.core.outbox import OutgoingMessage, SendResult
from gateway.core.sms_config import PROVIDER_NAMES, sms_missing
from gateway.phone.options import PhoneOptions
from gateway.phone.sms import TwilioSms
from gateway.sms.alibaba import AlibabaSms
from gateway.sms.content import ContentError, SmsContent, build
from gateway.sms.providers import HANDING, Outcome, SmsProvider, scrub
from gateway.sms.tencent import TencentSms

if TYPE_CHECKING:
    from gateway.core.services import Services

log = logging.getLogger(__name__)


def make_provider(services: Services) -> SmsProvider:
    settings = services.settings
    missing = sms_missing(settings)
    if missing:
        raise RuntimeError("SMS is not configured: " + ", ".join(missing))
    if settings.sms_provider == "alibaba":
        return AlibabaSms(settings)
    if settings.sms_provider == "tencent":
        return TencentSms(settings)
    return TwilioSms(settings)


def error_text(provider: str, outcome: Outcome) -> str:
    label = SMS_ERROR_LABELS.get(outcome.error_class or "", "发送失败")
    code = f" {outcome.code}" if outcome.code else ""
    detail = f"：{outcome.detail}" if outcome.detail else ""
    return f"{label}（{PROVIDER_NAMES.get(provider, provider)}{code}{detail}）"


class SmsSender:
    """The outbox ``Sender`` for channel ``sms``."""

    def __init__(self, services: Services, provider: SmsProvider | None = None,
                 options: PhoneOptions | None = None) -> None:
        self.services = services
        self.settings = services.settings
        self.provider = provider or make_provider(services)
        self.options = options or PhoneOptions()

    @property
    def lookup_url(self) -> str:
        return self.settings.public_url.rstrip("/") + "/status"

    def content_of(self, message: OutgoingMessage) -> SmsContent:
        free_text = self.provider.name == "twilio"
        return build(message.kind, message.body, message.payload,
                     templates=None if free_text else self.settings.sms_templates, lookup_url=self.lookup_url,
                     param_max=self.settings.sms_param_max, signature=self.options.sms_signature if free_text else "")

    async def send(self, message: OutgoingMessage) -> SendResult:
        if not is_mobile(message.recipient):
            return SendResult(ok=False, error=f"{SMS_ERROR_LABELS['not_mobile']}（recipient is not a mobile number "
                                              "(fixed lines get no SMS)）", permanent=True)
        if message.outbox_id is None:
            return SendResult(ok=False, error="outgoing SMS without an outbox id", permanent=True)
        try:
            content = self.content_of(message)
        except ContentError as exc:
            return SendResult(ok=False, error=f"{SMS_ERROR_LABELS['content']}（{scrub(str(exc))}）", permanent=True)
        since = await self._interrupted_since(message.outbox_id)
        already_sent = getattr(self.provider, "already_sent", None)
        if since is not None and already_sent is not None:
            message_id = await already_sent(message.recipient, content, since)
            if message_id:
                log.info("sms: outbox %s was taken by %s before an interruption; not sent again",
                         message.outbox_id, self.provider.name)
                await self._record_outbound(message, message_id, content)
                return SendResult(ok=True, provider_ref=message_id)
        await self._mark_handing(message.outbox_id)
        outcome = await self.provider.send(message.recipient, content, str(message.outbox_id))
        if not outcome.ok or not outcome.message_id:
            log.info("sms: outbox %s refused by %s (%s %s)", message.outbox_id, self.provider.name,
                     outcome.error_class, outcome.code or "-")
            return SendResult(ok=False, error=error_text(self.provider.name, outcome), permanent=not outcome.retryable)
        await self._record_outbound(message, outcome.message_id, content)
        return SendResult(ok=True, provider_ref=outcome.message_id)

    async def _interrupted_since(self, outbox_id: int) -> datetime | None:
        """When an earlier attempt of this row began handing it over without an outcome recorded."""
        async with self.services.store.read() as session:
            ref = (await session.execute(select(OutboxMessage.provider_ref)
                                         .where(OutboxMessage.id == outbox_id))).scalar_one_or_none()
        if not ref or not ref.startswith(HANDING):
            return None
        return datetime.fromisoformat(ref.removeprefix(HANDING))

    async def _mark_handing(self, outbox_id: int) -> None:
        """Committed before the request: a worker killed after the provider took the message leaves
        this mark, and the next attempt asks the provider before sending again."""
        async with self.services.store.write() as session:
            await session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id)
                                  .values(provider_ref=HANDING + datetime.now(UTC).isoformat()))

    async def _record_outbound(self, message: OutgoingMessage, message_id: str, content: SmsContent) -> None:
        """The sent SMS on the case's timeline (and the thread an SMS answer without a code joins)."""
        if message.case_id is None:
            return
        async with self.services.store.write() as session:
            await session.execute(insert_for(session)(Message).values(
                case_id=message.case_id, direction="out", channel="sms", source_ref=message_id, at=datetime.now(UTC),
                author=f"system:sms:{self.provider.name}", subject=message.subject, text=content.text, public=False,
                extra={"outbox_id": message.outbox_id, "kind": content.kind, "template": content.template},
            ).on_conflict_do_nothing(index_elements=[Message.channel, Message.source_ref]))
