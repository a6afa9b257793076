"""Background work: the job runner, and the core's own jobs (outbox delivery, deadline reminders).

The same ``WorkerRunner`` runs inside ``hcp serve`` (default) and alone as ``hcp worker``; which
jobs it runs is wired in ``gateway.worker``.  Jobs
marked ``singleton`` run in one process of the whole deployment at a time (see
``gateway.core.locks``); the others, like outbox delivery, are safe to run everywhere at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.core.db.dialect import insert_for
from gateway.core.db.models import WorkerState
from gateway.core.locks import singleton
from gateway.core.outbox import OutboxDelivery, Sender
from gateway.core.reminders import ReminderPolicy, sweep
from gateway.core.services import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Job:
    """A unit of periodic work; ``run`` returns a small dict of figures for the status page."""

    name: str
    run: Callable[[], Awaitable[Mapping[str, Any]]]
    interval: float
    singleton: bool = False


async def record_state(services: Services, key: str, value: Mapping[str, Any]) -> None:
    """Keep a job's last result where staff (and other processes) can see it."""
    now = datetime.now(UTC)
    async with services.store.write() as session:
        statement = insert_for(session)(WorkerState).values(key=key, value=dict(value), updated_at=now)
        excluded = statement.excluded
        await session.execute(statement.on_conflict_do_update(
            index_elements=[WorkerState.key], set_={"value": excluded.value, "updated_at": excluded.updated_at}))


def standard_jobs(services: Services, senders: Mapping[str, Sender]) -> list[Job]:
    settings = services.settings
    delivery = OutboxDelivery(services.store, services.cipher, senders, max_attempts=settings.outbox_max_attempts,
                              backoff_seconds=settings.outbox_backoff_seconds, batch=settings.outbox_batch,
                              lease=timedelta(seconds=settings.outbox_lease_seconds))
    policy = ReminderPolicy(warning=timedelta(minutes=settings.deadline_warning_minutes),
                            coordinated_working_days=settings.coordinated_reminder_working_days)

    async def deliver() -> Mapping[str, Any]:
        return await delivery.run_once()

    async def remind() -> Mapping[str, Any]:
        return {"raised": await sweep(services.store, await services.calendar.get(), policy)}

    return [
        Job("outbox", deliver, interval=settings.worker_interval_seconds),
        Job("reminders", remind, interval=60.0, singleton=True),
    ]


class WorkerRunner:
    """Runs each job in its own task until ``stop`` is set; one job's crash never stops another."""

    def __init__(self, services: Services, jobs: list[Job]) -> None:
        self.services = services
        self.jobs = jobs
        self.stop = asyncio.Event()

    async def _loop(self, job: Job) -> None:
        while not self.stop.is_set():
            try:
                result = await job.run()
                await record_state(self.services, f"job:{job.name}",
                                   {"ok": True, "result": dict(result), "at": datetime.now(UTC).isoformat()})
            except Exception as exc:
                log.exception("job %s failed", job.name)
                try:
                    await record_state(self.services, f"job:{job.name}",
                                       {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500],
                                        "at": datetime.now(UTC).isoformat()})
                except Exception:  # the database itself may be what failed
                    log.exception("could not record the failure of job %s", job.name)
            await self._sleep(job.interval)

    async def _singleton_loop(self, job: Job) -> None:
        lock_dir = self.services.settings.data_dir / "locks"
        while not self.stop.is_set():
            async with singleton(self.services.store, f"hcp:{job.name}", lock_dir) as held:
                if held:
                    await self._loop(job)
                    return
            await self._sleep(max(job.interval, 5.0))

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), timeout=seconds)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for job in self.jobs:
                group.create_task(self._singleton_loop(job) if job.singleton else self._loop(job))


