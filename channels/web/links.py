"""Signed links to the 找茬窗口 form of one window: the one place that makes and checks them.

The paper feature prints these links as window posters; the web form refuses a link whose
signature does not match (a forged or mistyped poster).  The signature is a truncated
HMAC-SHA256 (64 bits, base32 lower case) so the URL stays short enough for a clean QR code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
SIGNATURE_CHARS = 13  # 64 bits in base32, without padding


class LinkError(ValueError):
    """A hall or window code that cannot be part of a link."""


def _check(code: str, what: str) -> str:
    if not CODE.match(code):
        raise LinkError(f"{what} code {code!r} must be 1–32 lower-case letters, digits, '-' or '_'")
    return code


def link_signature(key: bytes, hall: str, window: str) -> str:
    digest = hmac.new(key, f"window-link:{_check(hall, 'hall')}:{_check(window, 'window')}".encode(),
                      hashlib.sha256).digest()
    return base64.b32encode(digest[:8]).decode().rstrip("=").lower()[:SIGNATURE_CHARS]


def window_path(key: bytes, hall: str, window: str) -> str:
    """``/w/{hall}/{window}/{signature}`` — append it to the public URL."""
    return f"/w/{hall}/{window}/{link_signature(key, hall, window)}"


def window_url(public_url: str, key: bytes, hall: str, window: str) -> str:
    return public_url.rstrip("/") + window_path(key, hall, window)


def verify_link(key: bytes, hall: str, window: str, signature: str) -> bool:
    """Constant-time check; ``False`` for malformed codes instead of raising."""
    try:
        expected = link_signature(key, hall, window)
    except LinkError:
        return False
    return hmac.compare_digest(expected, signature.lower())
