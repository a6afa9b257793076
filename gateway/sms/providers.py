"""The one interface every SMS provider implements, and the error classes their codes map to.

A provider takes a mobile number, the content and our reference (the outbox row id, echoed back in
delivery reports) and answers ``Outcome``: accepted with the provider's message id, or refused with
one of ``ERROR_CLASSES``.  The sender decides from the class alone whether to retry, so a new
provider is one module that maps its codes.  ``detail`` is the provider's message with every
number removed (``scrub``): it is stored and shown, and numbers never are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from gateway.sms.content import SmsContent

# error class -> whether sending the same message again later can succeed
ERROR_CLASSES: dict[str, bool] = {
    "template": False,        # template or signature not approved, parameters not as the template says
    "invalid_number": False,  # not a valid mobile number, blacklisted, unsubscribed
    "auth": False,            # wrong keys, or the account may not use the API
    "rejected": False,        # refused for another reason (content, region …)
    "rate_limit": True,       # too many to this number or in total: later
    "balance": True,          # the account ran out of credit: later, once topped up
    "provider_down": True,    # 5xx, timeout, connection refused, the provider's internal error
}
_NUMBERS = re.compile(r"\+?\d[\d\s-]{6,}\d")


# ``provider_ref`` of an outbox row whose request to the provider may be under way (gateway.sms.sender).
HANDING = "handing:"


def scrub(text: str, limit: int = 300) -> str:
    """A provider's text with every telephone-like number replaced (providers quote the number they refused)."""
    return _NUMBERS.sub("[号码]", text)[:limit]


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    message_id: str | None = None
    error_class: str | None = None
    code: str | None = None
    detail: str = ""

    @property
    def retryable(self) -> bool:
        return ERROR_CLASSES.get(self.error_class or "", True)


def refused(error_class: str, code: str | None, detail: str) -> Outcome:
    return Outcome(ok=False, error_class=error_class, code=code, detail=scrub(detail))


class SmsProvider(Protocol):
    """One provider's API.  ``to`` is a Chinese mobile number (11 digits); ``ref`` is the outbox row id."""

    name: str

    async def send(self, to: str, content: SmsContent, ref: str) -> Outcome: ...
