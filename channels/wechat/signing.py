"""WeChat's request signature and the replay window.

Every request WeChat's server sends to the account's URL carries ``signature`` = SHA-1 of the
sorted concatenation of the account's token, ``timestamp`` and ``nonce`` (safe mode adds
``msg_signature``, the same over the four values token, timestamp, nonce and the encrypted body).
The signature alone does not stop a replay, so the timestamp must also lie within a window of the
server's clock; a replay inside the window repeats a MsgId, which the ingest stores only once.
"""

from __future__ import annotations

import hashlib
import hmac

DEFAULT_WINDOW_SECONDS = 300


class SignatureError(ValueError):
    """A request that is not from WeChat (or not from now); ``reason`` is for the log, never the user."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def signature(*parts: str) -> str:
    """SHA-1 hex of the sorted, concatenated parts (WeChat's ``signature`` and ``msg_signature``)."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def check(token: str, given: str | None, timestamp: str | None, nonce: str | None, *, now: float,
          window: int = DEFAULT_WINDOW_SECONDS, body: str | None = None) -> int:
    """Raise ``SignatureError`` unless ``given`` signs (token, timestamp, nonce[, body]) and the
    timestamp lies within ``window`` seconds of ``now``.  Returns the timestamp."""
    if not given or not timestamp or not nonce:
        raise SignatureError("signature, timestamp or nonce missing")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureError("timestamp is not a number of seconds")
    if len(nonce) > 64:
        raise SignatureError("nonce too long")
    parts = (token, timestamp, nonce) if body is None else (token, timestamp, nonce, body)
    if not hmac.compare_digest(signature(*parts), given.lower()):
        raise SignatureError("bad signature")
    stamp = int(timestamp)
    if abs(now - stamp) > window:
        raise SignatureError(f"timestamp {stamp} is {int(now - stamp)} s away from the server's clock")
    return stamp
