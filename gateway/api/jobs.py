"""The inbound API's background job: the unrated-matters sweep (see ``gateway.api.matters``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.api.matters import sweep_unrated
from gateway.core.jobs import Job
from gateway.core.services import Services


def jobs(services: Services) -> list[Job]:
    async def unrated() -> Mapping[str, Any]:
        return {"marked": await sweep_unrated(services)}

    return [Job("unrated", unrated, interval=600.0, singleton=True)]
