"""The outbox's WeChat senders.

``WechatSender`` (channel ``wechat``) delivers status notices and staff replies to a citizen who
came by WeChat: by customer-service message (客服消息) while the citizen's last message is less
than 48 hours old, else by template message when ``HCP_WECHAT_TEMPLATE_ID`` is set.  An answer of
45015 (the 48 hours ran out meanwhile) also falls back to the template.  Without a template, a
notice outside the window fails for good with a reason staff see on the case and in ``hcp outbox
list``; they then answer by phone.

``MediaSender`` (channel ``wechat_media``) is not a message to anyone: it is the outbox used as a
durable job queue to download a citizen's picture through the media API into the case's
attachments, with the outbox's retries and backoff (the download may take longer than WeChat's
five seconds for the passive reply).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
from sqlalchemy import func, insert, select

from channels.wechat.messages import custom_text, template_message
from gateway.core.blobs import put_blob
from gateway.core.db.dialect import insert_for
from gateway.core.db.models import Attachment, Case, Contact, Message
from gateway.core.labels import label
from gateway.core.outbox import OutgoingMessage, SendResult
from gateway.wechat.api import PERMANENT_ERRORS, WechatApi, WechatApiError
from gateway.wechat.options import WechatOptions

if TYPE_CHECKING:
    from gateway.core.services import Services

WINDOW = timedelta(hours=48)
MAX_TEXT = 2000


async def last_inbound(services: Services, open_id: str) -> datetime | None:
    """When this OpenID last wrote to the account (the start of the 48-hour window)."""
    digest = services.cipher.search_hash(open_id)
    async with services.store.read() as session:
        return (await session.execute(
            select(func.max(Message.at)).join(Contact, Contact.case_id == Message.case_id)
            .where(Contact.wechat_hash == digest, Message.channel == "wechat", Message.direction == "in")
        )).scalar_one_or_none()


class WechatSender:
    """The outbox ``Sender`` for channel ``wechat``."""

    def __init__(self, services: Services, options: WechatOptions, *,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.services = services
        self.options = options
        self.api = WechatApi(services, options, transport=transport)

    async def send(self, message: OutgoingMessage) -> SendResult:
        open_id = message.recipient
        if not open_id:
            return SendResult(ok=False, error="没有微信 OpenID", permanent=True)
        text = message.body.strip()[:MAX_TEXT]
        last = await last_inbound(self.services, open_id)
        now = datetime.now(UTC)
        try:
            if last is not None and now - last < WINDOW:
                try:
                    await self.api.send_custom(custom_text(open_id, text))
                    return await self._sent(message, "custom", text)
                except WechatApiError as exc:
                    if exc.code != 45015:
                        raise
            if not self.options.template_id:
                return SendResult(ok=False, permanent=True,
                                  error="群众最后一条微信消息已超过 48 小时，且未配置模板消息"
                                        "（HCP_WECHAT_TEMPLATE_ID），请改用电话等方式答复")
            code = str(message.payload.get("tracking_code") or "")
            status = await self._status(message.case_id)
            data = await self.api.send_template(template_message(
                open_id, self.options.template_id, code=code, status=status, detail=text,
                url=f"{self.services.settings.public_url.rstrip('/')}/status" if self.services.settings.public_url
                else None))
            return await self._sent(message, "template", text, str(data.get("msgid") or ""))
        except WechatApiError as exc:
            return SendResult(ok=False, error=str(exc), permanent=exc.code in PERMANENT_ERRORS)
        except httpx.HTTPError as exc:
            return SendResult(ok=False, error=f"{type(exc).__name__}（微信接口无法连接）")

    async def _status(self, case_id: int | None) -> str:
        if case_id is None:
            return ""
        async with self.services.store.read() as session:
            status = (await session.execute(select(Case.status).where(Case.id == case_id))).scalar_one_or_none()
        return label("status", status)

    async def _sent(self, message: OutgoingMessage, how: str, text: str, ref: str = "") -> SendResult:
        """The notice on the case's timeline, as an outgoing message."""
        if message.case_id is not None and message.outbox_id is not None:
            async with self.services.store.write() as session:
                await session.execute(insert_for(session)(Message).values(
                    case_id=message.case_id, direction="out", channel="wechat",
                    source_ref=f"out:{message.outbox_id}", at=datetime.now(UTC), author="system:wechat",
                    subject=message.subject, text=text, public=False,
                    extra={"outbox_id": message.outbox_id, "kind": message.kind, "via": how},
                ).on_conflict_do_nothing(index_elements=[Message.channel, Message.source_ref]))
        return SendResult(ok=True, provider_ref=f"{how}:{ref}" if ref else how)


class MediaSender:
    """The outbox ``Sender`` for channel ``wechat_media``: a picture into the message's attachments."""

    def __init__(self, services: Services, options: WechatOptions, *,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.services = services
        self.api = WechatApi(services, options, transport=transport)

    async def send(self, message: OutgoingMessage) -> SendResult:
        media_id = str(message.payload.get("media_id") or "")
        message_id = message.payload.get("message_id")
        if not media_id or not isinstance(message_id, int):
            return SendResult(ok=False, error="任务缺少 media_id 或 message_id", permanent=True)
        try:
            media = await self.api.media(media_id)
        except WechatApiError as exc:
            # 40007: the media id is unknown or older than WeChat's three days: it will never come.
            return SendResult(ok=False, error=str(exc),
                              permanent=exc.code in (40007, -2) or exc.code in PERMANENT_ERRORS)
        except httpx.HTTPError as exc:
            return SendResult(ok=False, error=f"{type(exc).__name__}（微信接口无法连接）")
        settings = self.services.settings

        def store(session):  # type: ignore[no-untyped-def]
            exists = session.execute(select(Attachment.id).where(
                Attachment.message_id == message_id, Attachment.name == media.name)).first()
            if exists:
                return
            sha = put_blob(session, media.content, media.media_type, max_bytes=settings.max_attachment_bytes)
            session.execute(insert(Attachment).values(message_id=message_id, name=media.name,
                                                      media_type=media.media_type, size=len(media.content),
                                                      sha256=sha, rejected=None))

        await self.services.store.run_write(store)
        return SendResult(ok=True, provider_ref=f"media:{len(media.content)}")
