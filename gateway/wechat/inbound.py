"""What a message from the account's followers does once its signature has been checked.

A text, image or voice message becomes a case, or a follow-up on the sender's open case when it
quotes the tracking code or comes within ``thread_hours`` of the sender's last message on it.  A
picture is downloaded through the media API by the outbox (channel ``wechat_media``) into the
message's attachments.  The answer — the tracking code, the track and the deadline in plain
words — is the passive reply if it is ready within ``reply_seconds``; otherwise the route answers
WeChat with an empty ``success`` and the same words follow as a customer-service message through
the outbox (``late_acknowledgement``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select

from channels.wechat.messages import WechatMessage, to_intake, tracking_code_in
from gateway.core.db.models import Case, Contact, Message
from gateway.core.domain import Category
from gateway.core.ingest import Ingestor, IngestResult
from gateway.core.outbox import OutgoingMessage, enqueue
from gateway.phone.twilio_hooks import ReviewClassifier
from gateway.wechat.options import WechatOptions

if TYPE_CHECKING:
    from gateway.core.services import Services

log = logging.getLogger(__name__)
WELCOME = ("您好，欢迎关注！对窗口服务有意见或建议，请直接发送文字、语音或图片，我们会给您受理编号，"
           "并在规定时间内答复。")
WEEKDAYS = "一二三四五六日"
FINISHED = ("closed", "not_valid", "malicious")


@dataclass(frozen=True, slots=True)
class Handled:
    reply: str
    result: IngestResult | None = None


def plain_time(moment: datetime, tz: ZoneInfo) -> str:
    """``12月8日（星期二）上午9:30``: a deadline as people say it."""
    local = moment.astimezone(tz)
    half = "上午" if local.hour < 12 else "下午"
    hour = local.hour if local.hour <= 12 else local.hour - 12
    return f"{local.month}月{local.day}日（星期{WEEKDAYS[local.weekday()]}）{half}{hour}:{local.minute:02d}"


async def _thread_case(services: Services, open_id: str, hours: int) -> str | None:
    """The sender's open case with a WeChat message from them within ``hours``."""
    if hours <= 0:
        return None
    since = datetime.now(UTC) - timedelta(hours=hours)
    async with services.store.read() as session:
        return (await session.execute(
            select(Case.code).join(Contact, Contact.case_id == Case.id).join(Message, Message.case_id == Case.id)
            .where(Contact.wechat_hash == services.cipher.search_hash(open_id), Message.channel == "wechat",
                   Message.direction == "in", Message.at >= since, Case.status.not_in(FINISHED))
            .order_by(Message.at.desc()).limit(1))).scalar_one_or_none()


async def acknowledgement(services: Services, result: IngestResult) -> str:
    """The words of the answer: tracking code, track, deadline, how the reply comes."""
    tz = ZoneInfo(services.settings.timezone)
    async with services.store.read() as session:
        case = await session.get(Case, result.case_id)
        first = (await session.execute(select(Message.id).where(Message.case_id == result.case_id)
                                       .order_by(Message.id).limit(1))).scalar_one()
    assert case is not None
    if result.follow_up or first != result.message_id:  # a follow-up, or WeChat's retry of one
        return f"已收到您的补充，已并入受理编号 {case.code}，承办人员会一并处理。"
    category = Category(case.category) if case.category else None
    due = case.first_response_due or case.result_due
    if case.needs_review:
        step = "工作人员会尽快确认问题类别，并告知办理期限。"
    elif category is Category.NONE or category is None:
        step = "感谢您的评价，我们会认真听取您的意见。"
    elif due is not None:
        step = f"您反映的问题属于“{category.label}”，我们会在 {plain_time(due, tz)} 前答复您。"
    else:
        step = f"您反映的问题属于“{category.label}”，承办人员会与您商定办理期限。"
    return (f"您好！您的意见已受理，受理编号：{case.code}。\n{step}\n"
            "答复会通过本公众号发给您。补充情况请直接回复，并带上受理编号。")


async def handle(services: Services, options: WechatOptions, message: WechatMessage, raw: bytes) -> Handled:
    """Store ``message`` (exactly once by MsgId) and return the words to answer with."""
    if message.kind == "event":
        return Handled(WELCOME if message.event == "subscribe" else "")
    if not message.is_case:
        return Handled("目前只能受理文字、语音和图片消息，请用文字描述您遇到的问题。")
    prefix = services.settings.tracking_prefix
    quoted = tracking_code_in(message.content or message.recognition or "", prefix)
    thread = None if quoted else await _thread_case(services, message.open_id, options.thread_hours)
    intake = to_intake(message, raw, tracking_prefix=prefix, thread_code=thread)
    if message.kind == "image" or (message.kind == "voice" and not message.recognition):
        # Nothing to read: a person looks at the picture or listens, and sets the track.
        ingestor = Ingestor(services.store, services.settings, ReviewClassifier(services.classifier),
                            services.cipher, services.calendar.get)
    else:
        ingestor = services.ingestor
    result = await ingestor.ingest(intake)
    if message.kind == "image" and message.media_id and options.outbound:
        fetch = OutgoingMessage(channel="wechat_media", kind="media", recipient="", body="", case_id=result.case_id,
                                dedup_key=f"wechat-media:{message.msg_id}",
                                payload={"media_id": message.media_id, "message_id": result.message_id})
        async with services.store.write() as session:
            await session.run_sync(lambda sync: enqueue(sync, services.cipher, fetch))
    return Handled(await acknowledgement(services, result), result)


async def late_acknowledgement(services: Services, message: WechatMessage, handled: Handled) -> None:
    """The answer that missed the passive reply, as a customer-service message through the outbox."""
    if not handled.reply or handled.result is None:
        return
    outgoing = OutgoingMessage(channel="wechat", kind="acknowledgement", recipient=message.open_id,
                               body=handled.reply, case_id=handled.result.case_id,
                               dedup_key=f"wechat-ack:{message.msg_id}",
                               payload={"tracking_code": handled.result.case_code})
    async with services.store.write() as session:
        await session.run_sync(lambda sync: enqueue(sync, services.cipher, outgoing))
