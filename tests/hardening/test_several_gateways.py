"""Several gateways and workers, one PostgreSQL database (issue 23, point 10).

Two apps with their own ``Services`` (own engines and pools: to the database they are two gateway
processes) take web-form submissions at the same time; two outbox workers with their own stores
deliver the acknowledgements, and one of them "dies" mid-delivery (its task is cancelled while its
sender holds a batch, as a SIGKILL would leave it: rows ``sending`` under a lease).  Every
acknowledged submission must exist once and every acknowledgement be handed to the provider once.
Real OS processes are not started here (see README *Hardening* for what that leaves open).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from gateway.app import create_app
from gateway.core.db.models import Case, Message, OutboxMessage
from gateway.core.outbox import LEASE, OutboxDelivery, OutgoingMessage, SendResult
from gateway.core.services import Services
from gateway.core.settings import Settings
from tests.helpers import FixedClassifier, enable_sms
from tests.web.citizen import citizen, link, receipt_code

PER_GATEWAY = 8


class Provider:
    """The SMS provider: counts what each worker handed over."""

    def __init__(self) -> None:
        self.handed: Counter[int] = Counter()


class WorkerSender:
    def __init__(self, provider: Provider, *, hang: bool = False) -> None:
        self.provider, self.hang = provider, hang
        self.holding = asyncio.Event()

    async def send(self, message: OutgoingMessage) -> SendResult:
        if self.hang:  # the worker is killed before it hands this batch over
            self.holding.set()
            await asyncio.Event().wait()
        assert message.outbox_id is not None
        self.provider.handed[message.outbox_id] += 1
        return SendResult(ok=True, provider_ref=f"SM{message.outbox_id}")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_gateways_two_workers_one_database(settings: Settings, services: Services) -> None:
    settings.web_submissions_per_client = 1000
    enable_sms(settings)  # the form offers an SMS reply only when SMS is configured; the senders below stand in
    other = Services.create(settings, classifier=FixedClassifier())  # the second gateway's own engines
    await other.prepare_database()
    try:
        gateways = [create_app(services=services, run_workers=False), create_app(services=other, run_workers=False)]

        async def one(gateway: int, n: int) -> str:
            async with citizen(gateways[gateway], f"10.9.{gateway}.{n}") as person:
                path = link(services)
                await person.open(path)
                sent = await person.submit(path, text=f"第 {gateway}-{n} 件：排队太久", phone="13812345678",
                                           reply="sms", consent="1")
                assert sent.status_code == 303, sent.text[:500]
                return receipt_code(await person.get(sent.headers["location"]))

        codes = await asyncio.gather(*(one(g, n) for g in (0, 1) for n in range(PER_GATEWAY)))
        assert len(set(codes)) == 2 * PER_GATEWAY
        async with services.store.read() as session:
            stored = Counter((await session.execute(select(Case.code))).scalars())
            refs = (await session.execute(select(Message.source_ref, func.count()).where(Message.channel == "web")
                                          .group_by(Message.source_ref))).all()
        assert stored == Counter(codes), "every acknowledged submission exists once"
        assert all(count == 1 for _, count in refs)

        provider = Provider()
        doomed = WorkerSender(provider, hang=True)
        worker_a = OutboxDelivery(services.store, services.cipher, {"sms": doomed}, batch=5)
        worker_b = OutboxDelivery(other.store, other.cipher, {"sms": WorkerSender(provider)}, batch=3)
        now = datetime.now(UTC)
        crashed = asyncio.create_task(worker_a.run_once(now))
        await asyncio.wait_for(doomed.holding.wait(), 10)
        while sum((await worker_b.run_once(now)).values()):
            pass
        crashed.cancel()  # the worker dies holding five rows
        with pytest.raises(asyncio.CancelledError):
            await crashed
        assert len(provider.handed) == 2 * PER_GATEWAY - 5, "the rows under the dead worker's lease wait"
        while sum((await worker_b.run_once(now + LEASE + LEASE)).values()):
            pass
        async with services.store.read() as session:
            rows = (await session.execute(select(OutboxMessage.id, OutboxMessage.status))).all()
        assert len(rows) == 2 * PER_GATEWAY and {status for _, status in rows} == {"sent"}
        assert provider.handed == Counter({row_id: 1 for row_id, _ in rows}), "each message handed over once"
    finally:
        await other.close()
