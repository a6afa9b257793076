"""This feature's sender and background jobs (see gateway/channel_plugins.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.channel_plugins import ChannelPlugin

if TYPE_CHECKING:
    from gateway.services import Services


def plugin(services: Services) -> ChannelPlugin:
    return ChannelPlugin()
