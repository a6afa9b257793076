"""Our outgoing Message-IDs carry an HMAC, so a reply that references one can be trusted.

``<hcp.{outbox_id}.{mac}@{domain}>``: the outbox row it came from and 16 hex digits of
HMAC-SHA256 over ``hcp.{outbox_id}`` with the gateway's signing key.  The same outbox row always
gets the same Message-ID, so a retried send does not start a new thread.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

_OURS = re.compile(r"^<hcp\.(\d{1,18})\.([0-9a-f]{1,64})@([^<>\s]+)>$")
_ANGLE = re.compile(r"<[^<>\s]{1,253}>")


def _mac(key: bytes, outbox_id: int) -> str:
    return hmac.new(key, f"hcp.{outbox_id}".encode(), hashlib.sha256).hexdigest()[:16]


def make_message_id(outbox_id: int, key: bytes, domain: str) -> str:
    return f"<hcp.{outbox_id}.{_mac(key, outbox_id)}@{domain}>"


@dataclass(frozen=True, slots=True)
class ReferenceCheck:
    trusted: tuple[str, ...]
    """Our own Message-IDs with a valid HMAC."""
    forged: tuple[str, ...]
    """IDs shaped like ours whose HMAC does not match."""
    foreign: tuple[str, ...]
    """Everything else (the citizen's own earlier messages, other systems)."""


def extract_ids(*values: str | None) -> list[str]:
    """Message-IDs (with angle brackets) from In-Reply-To / References values, in order, unique."""
    found: dict[str, None] = {}
    for value in values:
        for match in _ANGLE.findall(value or ""):
            found.setdefault(match, None)
    return list(found)


def check_references(ids: list[str], key: bytes) -> ReferenceCheck:
    trusted, forged, foreign = [], [], []
    for mid in ids:
        match = _OURS.match(mid)
        if not match:
            foreign.append(mid)
        elif hmac.compare_digest(match.group(2), _mac(key, int(match.group(1)))):
            trusted.append(mid)
        else:
            forged.append(mid)
    return ReferenceCheck(tuple(trusted), tuple(forged), tuple(foreign))
