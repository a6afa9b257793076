"""The paper channel's background work: scanned batches, oldest first, one process at a time.

One process of the deployment (``singleton``) decodes batches, so two workers never read the same
pages; a batch abandoned by a crashed process is taken up again once its heartbeat is stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.core.jobs import Job
from gateway.core.services import Services
from gateway.paper.batches import run_pending


def jobs(services: Services) -> list[Job]:
    async def batches() -> Mapping[str, Any]:
        return await run_pending(services)

    return [Job("paper-batches", batches, interval=3.0, singleton=True)]
