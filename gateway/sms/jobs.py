"""The SMS channel's background work: the outbox sender when SMS is configured (nothing otherwise,
so the rows of an unconfigured channel are never claimed), and for Alibaba the poll of
``QuerySendDetails`` for messages still waiting for their delivery report.

Alibaba keeps send details for 30 days and answers per number and day; the poll asks about sent
rows of the last ``POLL_DAYS`` days without a final state, oldest first, ``POLL_BATCH`` a round.
Tencent and Twilio push their reports (``gateway.sms.routes``, ``gateway.phone.routes``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from gateway.core.db.models import OutboxMessage
from gateway.core.jobs import Job
from gateway.core.outbox import SENT, Sender
from gateway.core.services import Services
from gateway.core.sms_config import sms_ready
from gateway.sms.alibaba import AlibabaSms
from gateway.sms.delivery import apply_report, domestic_report
from gateway.sms.sender import SmsSender

log = logging.getLogger(__name__)
POLL_DAYS = 3
POLL_BATCH = 50


def senders(services: Services) -> dict[str, Sender]:
    if sms_ready(services.settings):
        return {"sms": SmsSender(services)}
    return {}


async def poll_alibaba(services: Services, provider: AlibabaSms | None = None,
                       now: datetime | None = None) -> dict[str, int]:
    """Ask Alibaba about sent SMS still waiting for a delivery report; apply what it says."""
    provider = provider or AlibabaSms(services.settings)
    now = now or datetime.now(UTC)
    tz = ZoneInfo(services.settings.timezone)
    async with services.store.read() as session:
        rows = (await session.execute(
            select(OutboxMessage).where(OutboxMessage.channel == "sms", OutboxMessage.status == SENT,
                                        OutboxMessage.provider_ref.is_not(None),
                                        OutboxMessage.sent_at >= now - timedelta(days=POLL_DAYS))
            .order_by(OutboxMessage.sent_at).limit(POLL_BATCH * 4))).scalars().all()
    waiting = [r for r in rows if (r.payload or {}).get("delivery_state") not in ("delivered", "failed")][:POLL_BATCH]
    counts = {"asked": 0, "delivered": 0, "failed": 0, "waiting": 0, "errors": 0}
    for row in waiting:
        phone = services.cipher.open(row.recipient_enc) or ""
        counts["asked"] += 1
        try:
            details = await provider.details(phone, row.provider_ref or "", (row.sent_at or now).astimezone(tz))
        except Exception as exc:  # one failed question must not stop the round
            log.warning("sms: QuerySendDetails for outbox %s failed (%s)", row.id, type(exc).__name__)
            counts["errors"] += 1
            continue
        final = [d for d in details if d.status in (2, 3)]
        if not final:
            counts["waiting"] += 1
            continue
        detail = final[-1]
        delivered = detail.status == 3
        received = None
        if detail.received_at:
            try:
                received = datetime.strptime(detail.received_at, "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)
            except ValueError:
                received = None
        await apply_report(services, domestic_report("alibaba", row.provider_ref or "", delivered, detail.error_code,
                                                     outbox_id=row.id, at=received))
        counts["delivered" if delivered else "failed"] += 1
    return counts


def jobs(services: Services) -> list[Job]:
    settings = services.settings
    if not (sms_ready(settings) and settings.sms_provider == "alibaba"):
        return []

    async def poll() -> Mapping[str, Any]:
        return await poll_alibaba(services)

    return [Job("sms-alibaba-receipts", poll, interval=60.0, singleton=True)]
