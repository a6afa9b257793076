"""The results feature's background work: the roll-up job always; the upstream (city/province
好差评 system) sender and its push job only when ``HCP_UPSTREAM_URL`` and ``HCP_UPSTREAM_KEY`` are set."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from gateway.core.jobs import Job
from gateway.core.outbox import Sender
from gateway.core.services import Services
from gateway.results import rollup
from gateway.results.upstream import BATCH, CHANNEL, UpstreamSender, enqueue_changes

log = logging.getLogger(__name__)


def _upstream_configured(services: Services) -> bool:
    settings = services.settings
    if not settings.upstream_url:
        return False
    if settings.upstream_key is None:
        log.warning("HCP_UPSTREAM_URL is set but HCP_UPSTREAM_KEY is not: upstream push disabled")
        return False
    return True


def jobs(services: Services) -> list[Job]:
    async def roll_up() -> Mapping[str, Any]:
        return await rollup.refresh(services.store, services.settings.timezone)

    result = [Job("results-rollup", roll_up, interval=60.0, singleton=True)]
    if _upstream_configured(services):
        async def push() -> Mapping[str, Any]:
            queued = 0
            while True:
                count = await services.store.run_write(lambda session: enqueue_changes(session, services))
                queued += count
                if count < BATCH:
                    return {"queued": queued}

        result.append(Job("upstream", push, interval=60.0, singleton=True))
    return result


def senders(services: Services) -> dict[str, Sender]:
    if not _upstream_configured(services):
        return {}
    settings = services.settings
    assert settings.upstream_url and settings.upstream_key is not None
    return {CHANNEL: UpstreamSender(settings.upstream_url, settings.upstream_key.get_secret_value().encode())}
