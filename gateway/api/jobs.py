"""The inbound API's background job: the unrated-matters sweep (see ``gateway.api.matters``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gateway.channel_plugins import ChannelPlugin

if TYPE_CHECKING:
    from gateway.services import Services


def plugin(services: Services) -> ChannelPlugin:
    from gateway.api.matters import sweep_unrated
    from gateway.workers import Job

    async def unrated() -> Mapping[str, Any]:
        return {"marked": await sweep_unrated(services)}

    return ChannelPlugin(jobs=[Job("unrated", unrated, interval=600.0, singleton=True)])
