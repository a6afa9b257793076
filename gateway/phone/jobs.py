"""The hotline's outbox sender (``sms`` through Twilio) when Twilio is configured; nothing otherwise.

Incoming calls and messages arrive by webhook (``gateway.phone.routes``) and by ``hcp phone
import``; no background polling is needed.
"""

from __future__ import annotations

from gateway.core.outbox import Sender
from gateway.core.services import Services
from gateway.phone.sms import TwilioSmsSender, twilio_configured


def senders(services: Services) -> dict[str, Sender]:
    if twilio_configured(services.settings):
        return {"sms": TwilioSmsSender(services)}
    return {}
