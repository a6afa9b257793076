"""Delivery reports, from whichever provider, applied to their outbox rows — in any order.

Providers report late, twice and out of order (a ``sent`` after ``delivered``; a report for a
message already resent under a new id).  Each report carries a ``rank``; a report ranked below the
row's last one is stale and changes nothing, so is a second final word (delivered or failed) on a
message already settled, and reports for a superseded message id are ignored.
``delivered`` of an answer (``reply``/``reply_notice``) records the moment the citizen got it on the
case (``gateway.core.answered``), which is what 答复率 counts.  A ``failed`` report puts the row back
in the queue only when the provider says resending may help (Twilio's passing reasons); otherwise
the row is ``failed`` for good and the case shows on ``/supervise`` as 答复未送达, so a person calls.

The state shown beside each reply (``ReplyDelivery``) is read here too: 已发送 / 已送达 / 失败（原因）
with the retry state.  Nothing here stores or logs a number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.answered import ANSWER_KINDS, mark_answer_delivered
from gateway.core.db.models import OutboxMessage
from gateway.core.labels import SMS_ERROR_LABELS
from gateway.core.outbox import FAILED, PENDING, SENDING, SENT, backoff
from gateway.core.sms_config import PROVIDER_NAMES
from gateway.sms.providers import HANDING, scrub

if TYPE_CHECKING:
    from gateway.core.services import Services

FINAL = frozenset({"delivered", "failed"})
DOMESTIC_RANK = {"sent": 3, "delivered": 4, "failed": 4}


@dataclass(frozen=True, slots=True)
class Report:
    """One delivery report.  ``state`` is ``sent``, ``delivered`` or ``failed``; ``raw`` the provider's word."""

    provider: str
    message_id: str
    state: str
    rank: int
    raw: str
    error_code: str | None = None
    outbox_id: int | None = None
    resend: bool = False
    at: datetime | None = None


def domestic_report(provider: str, message_id: str, delivered: bool, error_code: str | None,
                    outbox_id: int | None = None, at: datetime | None = None) -> Report:
    """An Alibaba or Tencent report.  Their carriers have already retried for hours before saying
    FAIL, so a failure is final here: a person calls instead of paying for the same failure again."""
    state = "delivered" if delivered else "failed"
    return Report(provider=provider, message_id=message_id, state=state, rank=DOMESTIC_RANK[state],
                  raw="delivered" if delivered else "failed", error_code=None if delivered else error_code,
                  outbox_id=outbox_id, at=at)


async def apply_report(services: Services, report: Report) -> str:
    """Apply one report: ``updated``, ``stale``, ``requeued``, ``failed`` or ``unknown`` (no such row,
    or the id belongs to another message)."""
    now = datetime.now(UTC)
    async with services.store.write() as session:
        query = select(OutboxMessage).where(OutboxMessage.channel == "sms")
        query = (query.where(OutboxMessage.id == report.outbox_id) if report.outbox_id is not None
                 else query.where(OutboxMessage.provider_ref == report.message_id))
        row = (await session.execute(query.with_for_update())).scalar_one_or_none()
        if row is None:
            return "unknown"
        payload = dict(row.payload or {})
        superseded = list(payload.get("superseded_sids", []))
        if report.message_id in superseded:
            return "stale"
        known = row.provider_ref if row.provider_ref and not row.provider_ref.startswith(HANDING) else None
        if known and known != report.message_id:
            return "unknown"
        previous = payload.get("delivery_rank")
        if previous is not None and (report.rank < int(previous) or (
                report.rank == int(previous) and payload.get("delivery_state") in FINAL)):
            return "stale"  # an earlier state arriving late, or a second word on a settled message
        if known is None:
            row.provider_ref = report.message_id  # the report raced ahead of the sender's own bookkeeping
        code = scrub(report.error_code, 40) if report.error_code else None
        payload.update(delivery_status=report.raw, delivery_state=report.state, delivery_rank=report.rank,
                       delivery_at=(report.at or now).isoformat(), delivery_error=code)
        outcome = "updated"
        if report.state == "delivered" and row.kind in ANSWER_KINDS and row.case_id is not None:
            await session.execute(mark_answer_delivered(row.case_id, report.at or now))
        if report.state == "failed" and row.status in (SENT, PENDING):
            label = PROVIDER_NAMES.get(report.provider, report.provider)
            said = report.raw if report.provider == "twilio" else None  # Twilio's word: undelivered or failed
            row.last_error = f"短信未送达（{' '.join(filter(None, (label, said, code)))}）"
            if not report.resend or row.attempts >= services.settings.outbox_max_attempts:
                row.status = FAILED
                outcome = "failed"
            else:
                row.status = PENDING
                row.next_attempt_at = now + backoff(row.attempts, services.settings.outbox_backoff_seconds)
                payload["superseded_sids"] = [*superseded, report.message_id]
                payload["delivery_state"] = payload["delivery_status"] = payload["delivery_rank"] = None
                row.provider_ref = None
                outcome = "requeued"
        elif report.state == "failed" and row.status == SENDING:
            outcome = "updated"  # a resend is under way; its own result decides
        row.payload = payload
        return outcome


# ----- what the case page shows beside each reply ----------------------------------------------------

@dataclass(frozen=True, slots=True)
class ReplyDelivery:
    """The delivery of one outbox row, in the words staff read."""

    outbox_id: int
    channel: str
    label: str  # 待发送 / 已发送 / 已送达 / 失败（原因）
    tone: str  # "ok", "wait", "bad" (colour, always with the words)
    retry: str | None  # "第 2 次尝试，12:30 重试" and the like
    failed: bool


def describe(row: OutboxMessage, tz_name: str) -> ReplyDelivery:
    from zoneinfo import ZoneInfo

    payload = row.payload or {}
    state = payload.get("delivery_state")
    retry = None
    if row.status == FAILED:
        reason = _reason(row.last_error, payload.get("delivery_error"))
        return ReplyDelivery(row.id, row.channel, f"失败（{reason}）", "bad", f"已尝试 {row.attempts} 次，不再自动重试",
                             True)
    if row.status in (PENDING, SENDING):
        if row.attempts:
            at = row.next_attempt_at.astimezone(ZoneInfo(tz_name))
            reason = _reason(row.last_error, payload.get("delivery_error"))
            retry = f"第 {row.attempts} 次未成功（{reason}），{at:%m-%d %H:%M} 重试"
        return ReplyDelivery(row.id, row.channel, "发送中" if row.status == SENDING else "待发送", "wait", retry,
                             False)
    if row.channel == "sms":
        if state == "delivered":
            return ReplyDelivery(row.id, row.channel, "已送达", "ok", None, False)
        return ReplyDelivery(row.id, row.channel, "已发送，等待送达回执", "wait", None, False)
    return ReplyDelivery(row.id, row.channel, "邮件服务器已接收" if row.channel == "email" else "已发送", "ok",
                         None, False)


def _reason(last_error: str | None, carrier_code: str | None) -> str:
    """The gist of a failure: the sender's errors start with the class label (``号码无效（阿里云短信 …）``)."""
    if last_error and last_error.startswith("短信未送达"):
        return "运营商未送达" + (f" {carrier_code}" if carrier_code else "")
    gist = (last_error or "原因未知").split("（")[0]
    return gist if gist in SMS_ERROR_LABELS.values() else (last_error or "原因未知")[:60]


async def deliveries_by_key(session: AsyncSession, case_id: int, tz_name: str) -> dict[str, ReplyDelivery]:
    """The delivery of every outbox row of a case, keyed by ``dedup_key`` (a reply's ``source_ref``)
    and by ``outbox:ID`` (the sender's own timeline entry carries the outbox id)."""
    rows: Sequence[OutboxMessage] = (await session.execute(
        select(OutboxMessage).where(OutboxMessage.case_id == case_id))).scalars().all()
    found: dict[str, ReplyDelivery] = {}
    for row in rows:
        view = describe(row, tz_name)
        found[f"outbox:{row.id}"] = view
        if row.dedup_key:
            found[row.dedup_key] = view
    return found
