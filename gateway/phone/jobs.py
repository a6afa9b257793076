"""The hotline's outbox sender (``sms`` through Twilio) when Twilio is configured; nothing otherwise.

Incoming calls and messages arrive by webhook (``gateway.phone.routes``) and by ``hcp phone
import``; no background polling is needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.channel_plugins import ChannelPlugin

if TYPE_CHECKING:
    from gateway.services import Services


def plugin(services: Services) -> ChannelPlugin:
    from gateway.phone.sms import TwilioSmsSender, twilio_configured

    result = ChannelPlugin()
    if twilio_configured(services.settings):
        result.senders["sms"] = TwilioSmsSender(services)
    return result
