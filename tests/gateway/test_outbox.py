"""The durable outbox: delivery, retries with backoff, final failure, and no double sending."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from gateway.core.db.models import OutboxMessage
from gateway.core.outbox import OutboxDelivery, OutgoingMessage, SendResult, backoff, enqueue, retry_failed
from gateway.core.services import Services
from tests.helpers import local


@dataclass
class RecordingSender:
    results: list[SendResult | Exception] = field(default_factory=list)
    sent: list[OutgoingMessage] = field(default_factory=list)
    delay: float = 0.0

    async def send(self, message: OutgoingMessage) -> SendResult:
        await asyncio.sleep(self.delay)
        self.sent.append(message)
        outcome = self.results.pop(0) if self.results else SendResult(ok=True, provider_ref=f"id-{len(self.sent)}")
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


async def put(services: Services, n: int = 1, channel: str = "email") -> None:
    def work(session) -> None:
        for i in range(n):
            enqueue(session, services.cipher, OutgoingMessage(
                channel=channel, kind="reply", recipient=f"c{i}@163.com", body="您好", subject="答复",
                dedup_key=f"k{channel}{i}"), now=local(2026, 11, 27, 9, 0))

    await services.store.run_write(work)


async def rows(services: Services) -> list[OutboxMessage]:
    async with services.store.read() as session:
        return list((await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())


async def test_delivery_sends_and_records(services: Services) -> None:
    await put(services, 3)
    sender = RecordingSender()
    delivery = OutboxDelivery(services.store, services.cipher, {"email": sender})
    assert await delivery.run_once(local(2026, 11, 27, 9, 1)) == {"sent": 3, "retry": 0, "failed": 0}
    assert [m.recipient for m in sender.sent] == ["c0@163.com", "c1@163.com", "c2@163.com"]
    assert [(r.status, r.attempts, r.provider_ref) for r in await rows(services)] == [
        ("sent", 1, "id-1"), ("sent", 1, "id-2"), ("sent", 1, "id-3")]
    assert await delivery.run_once(local(2026, 11, 27, 9, 2)) == {"sent": 0, "retry": 0, "failed": 0}


async def test_a_repeated_dedup_key_is_enqueued_once(services: Services) -> None:
    await put(services, 2)
    await put(services, 2)
    assert len(await rows(services)) == 2


async def test_failures_retry_with_backoff_then_fail_visibly(services: Services) -> None:
    await put(services, 1)
    sender = RecordingSender(results=[ConnectionError("refused"), SendResult(ok=False, error="451 try later"),
                                      SendResult(ok=False, error="451 again")])
    delivery = OutboxDelivery(services.store, services.cipher, {"email": sender}, max_attempts=3, backoff_seconds=60)
    t0 = local(2026, 11, 27, 9, 1)
    assert (await delivery.run_once(t0))["retry"] == 1
    [row] = await rows(services)
    assert row.status == "pending" and row.next_attempt_at == t0 + timedelta(seconds=60)
    assert "ConnectionError: refused" in row.last_error
    assert (await delivery.run_once(t0 + timedelta(seconds=30)))["retry"] == 0, "not due yet"
    assert (await delivery.run_once(t0 + timedelta(seconds=61)))["retry"] == 1
    [row] = await rows(services)
    assert row.next_attempt_at == t0 + timedelta(seconds=61 + 120)
    assert (await delivery.run_once(t0 + timedelta(hours=1)))["failed"] == 1
    [row] = await rows(services)
    assert (row.status, row.attempts, row.last_error) == ("failed", 3, "451 again")
    assert await retry_failed(services.store, row.id)
    assert (await delivery.run_once(datetime.now(UTC) + timedelta(seconds=1)))["sent"] == 1


async def test_a_permanent_failure_is_not_retried(services: Services) -> None:
    await put(services, 1)
    sender = RecordingSender(results=[SendResult(ok=False, error="550 no such user", permanent=True)])
    delivery = OutboxDelivery(services.store, services.cipher, {"email": sender})
    assert (await delivery.run_once(local(2026, 11, 27, 9, 1)))["failed"] == 1
    assert not await retry_failed(services.store, 999)


async def test_channels_without_a_sender_wait(services: Services) -> None:
    await put(services, 1, channel="sms")
    delivery = OutboxDelivery(services.store, services.cipher, {"email": RecordingSender()})
    assert await delivery.run_once(local(2026, 11, 27, 9, 1)) == {"sent": 0, "retry": 0, "failed": 0}
    assert (await rows(services))[0].status == "pending"


async def test_a_lease_of_a_dead_worker_expires(services: Services) -> None:
    await put(services, 1)
    dead = OutboxDelivery(services.store, services.cipher, {"email": RecordingSender()})
    claimed = await dead.claim(local(2026, 11, 27, 9, 1))  # claimed, then the worker "dies"
    assert len(claimed) == 1
    alive = OutboxDelivery(services.store, services.cipher, {"email": RecordingSender()})
    assert (await alive.run_once(local(2026, 11, 27, 9, 2)))["sent"] == 0, "lease still held"
    assert (await alive.run_once(local(2026, 11, 27, 9, 7)))["sent"] == 1


async def test_concurrent_workers_never_send_a_row_twice(services: Services, settings) -> None:
    await put(services, 40)
    other = Services.create(settings, classifier=services.classifier)
    try:
        sender = RecordingSender(delay=0.001)
        workers = [OutboxDelivery(s.store, s.cipher, {"email": sender}, batch=7) for s in (services, other) * 2]
        now = local(2026, 11, 27, 9, 1)
        for _ in range(8):
            await asyncio.gather(*(w.run_once(now) for w in workers))
        assert sorted(m.outbox_id for m in sender.sent) == [r.id for r in await rows(services)]
        assert all(r.status == "sent" and r.attempts == 1 for r in await rows(services))
    finally:
        await other.close()


def test_backoff_doubles_and_caps() -> None:
    assert [backoff(n, 30).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(40, 30) == timedelta(hours=6)
