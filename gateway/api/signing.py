"""Request signatures of the inbound API.

A client signs ``"{timestamp}\\n{nonce}\\n{METHOD}\\n{path}\\n{sha256(body) hex}"`` with
HMAC-SHA256 under one of its keys and sends::

    X-HCP-Client:    its code            X-HCP-Key:   the key id
    X-HCP-Timestamp: Unix seconds        X-HCP-Nonce: 16–64 random characters
    X-HCP-Signature: hex HMAC

The gateway refuses a timestamp outside the allowed clock skew and a nonce it has seen before,
so a captured request cannot be replayed.  This module is pure; ``gateway.api.auth`` checks the
keys and nonces in the store.
"""

from __future__ import annotations

import hashlib
import hmac
import re

NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
HEADERS = ("x-hcp-client", "x-hcp-key", "x-hcp-timestamp", "x-hcp-nonce", "x-hcp-signature")


def canonical(timestamp: str, nonce: str, method: str, path: str, body: bytes) -> bytes:
    return "\n".join((timestamp, nonce, method.upper(), path, hashlib.sha256(body).hexdigest())).encode()


def sign(secret: bytes, timestamp: str, nonce: str, method: str, path: str, body: bytes) -> str:
    return hmac.new(secret, canonical(timestamp, nonce, method, path, body), hashlib.sha256).hexdigest()


def signature_matches(secret: bytes, signature: str, timestamp: str, nonce: str, method: str, path: str,
                      body: bytes) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, nonce, method, path, body), signature.lower())


def signed_headers(client: str, key_id: str, secret: bytes, method: str, path: str, body: bytes, *,
                   timestamp: int, nonce: str) -> dict[str, str]:
    """The headers a client sends (used by the tests and by integrators as a reference)."""
    stamp = str(timestamp)
    return {"X-HCP-Client": client, "X-HCP-Key": key_id, "X-HCP-Timestamp": stamp, "X-HCP-Nonce": nonce,
            "X-HCP-Signature": sign(secret, stamp, nonce, method, path, body)}
