"""One-time form tokens: the exactly-once key of a web submission and its CSRF proof in one string.

Every form page carries a fresh token.  It is the submission's ``source_ref``, so a double tap or a
browser that re-sends the POST lands on the case the first copy made instead of opening a second
one.  It is checked with one HMAC and no database round trip, which keeps the submit path fast:

``1`` (format version) · issue time (Unix seconds, base 36) · ``.`` · nonce (80 random bits,
base32) · ``.`` · MAC (80 bits of HMAC-SHA256, base32)

The MAC covers the issue time, the nonce, the *scope* (which form: one window, the general form,
the status lookup) and the *client binding* (the value of a random cookie the form page sets).  A
token lifted from another browser, from another window's form, or built by hand therefore fails,
and a cross-site page cannot obtain one that matches its victim's cookie.  Tokens older than the
allowed age are refused as expired, never silently accepted, so a page left open for days asks the
citizen to press 提交 once more (the typed text is kept by the caller).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

VERSION = "1"
NONCE_BYTES = 10
MAC_BYTES = 10
MAX_TOKEN_CHARS = 64
CLOCK_SKEW = timedelta(minutes=5)
_SHAPE = re.compile(r"^1([0-9a-z]{1,10})\.([a-z2-7]{16})\.([a-z2-7]{16})$")
_CLIENT = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class TokenProblem(StrEnum):
    """Why a token was refused; the web layer turns each into a Chinese message."""

    MISSING = "missing"
    MALFORMED = "malformed"
    FORGED = "forged"
    EXPIRED = "expired"
    NO_CLIENT = "no_client"


class TokenError(ValueError):
    def __init__(self, problem: TokenProblem) -> None:
        self.problem = problem
        super().__init__(f"form token refused: {problem.value}")


@dataclass(frozen=True, slots=True)
class FormToken:
    """A verified token: ``value`` is what becomes ``source_ref``."""

    value: str
    issued_at: datetime
    expired: bool = False


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text


def derive_key(key: bytes) -> bytes:
    """A key used for form tokens only, so a MAC made here is never valid anywhere else."""
    return hmac.new(key, b"hcp-web-form-token-v1", hashlib.sha256).digest()


def new_client_id() -> str:
    """The random value of the binding cookie (128 bits, URL-safe)."""
    return secrets.token_urlsafe(16)


def valid_client_id(value: str | None) -> bool:
    return bool(value) and bool(_CLIENT.match(value or ""))


def _mac(token_key: bytes, issued: str, nonce: str, scope: str, client: str) -> str:
    message = f"{issued}.{nonce}|{scope}|{client}".encode()
    return _b32(hmac.new(token_key, message, hashlib.sha256).digest()[:MAC_BYTES])


def issue_token(token_key: bytes, *, scope: str, client: str, now: datetime) -> str:
    """A fresh token for one form page.  ``token_key`` comes from :func:`derive_key`."""
    issued = _base36(int(now.timestamp()))
    nonce = _b32(secrets.token_bytes(NONCE_BYTES))
    return f"{VERSION}{issued}.{nonce}.{_mac(token_key, issued, nonce, scope, client)}"


def verify_token(token_key: bytes, token: str | None, *, scope: str, client: str | None, now: datetime,
                 max_age: timedelta) -> FormToken:
    """Check shape, MAC and age; raise ``TokenError`` for a missing, malformed or forged token.

    An authentic but old token is returned with ``expired=True`` rather than raised, because the
    caller must still find out whether it was already used (an honest late retry of a stored
    submission shows its confirmation; an unused one asks the citizen to submit again).
    """
    if not token:
        raise TokenError(TokenProblem.MISSING)
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenError(TokenProblem.MALFORMED)
    match = _SHAPE.match(token)
    if match is None:
        raise TokenError(TokenProblem.MALFORMED)
    if not valid_client_id(client):
        raise TokenError(TokenProblem.NO_CLIENT)
    issued, nonce, mac = match.groups()
    expected = _mac(token_key, issued, nonce, scope, client or "")
    if not hmac.compare_digest(expected, mac):
        raise TokenError(TokenProblem.FORGED)
    issued_at = datetime.fromtimestamp(int(issued, 36), UTC)
    if issued_at > now + CLOCK_SKEW:
        raise TokenError(TokenProblem.FORGED)
    return FormToken(token, issued_at, expired=now - issued_at > max_age)


def status_pin(key: bytes, tracking_code: str) -> str:
    """The four-digit 查询码 of a case without a phone number, derived (never stored) from its code.

    A citizen who left no phone number still needs a second factor beside the tracking code to see
    the status; deriving it with the gateway's key means no table holds it and every process agrees.
    """
    digest = hmac.new(key, f"status-pin:{tracking_code.upper()}".encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:4], 'big') % 10_000:04d}"
