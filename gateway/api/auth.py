"""Authenticate one inbound API request: client, key, signature, clock, then nonce.

The nonce is recorded only after the signature is verified, so nobody can burn a client's
nonces; the ``UNIQUE(client_id, nonce)`` insert makes a replay fail even when two copies race.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from starlette.requests import Request

from gateway.api.signing import NONCE, signature_matches
from gateway.core.db.dialect import dialect_of, insert_ignoring
from gateway.core.db.models_matters import ApiClient, ApiClientKey, ApiNonce
from gateway.core.personal import PersonalDataError


class ApiAuthError(Exception):
    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.message, self.status = message, status


@dataclass(frozen=True)
class ApiCaller:
    client_id: int
    code: str
    key_id: str


async def authenticate(request: Request, body: bytes) -> ApiCaller:
    services = request.app.state.services
    settings = services.settings
    headers = request.headers
    client_code, key_id = headers.get("x-hcp-client", ""), headers.get("x-hcp-key", "")
    stamp, nonce, signature = (headers.get("x-hcp-timestamp", ""), headers.get("x-hcp-nonce", ""),
                               headers.get("x-hcp-signature", ""))
    if not (client_code and key_id and stamp and nonce and signature):
        raise ApiAuthError("missing signature headers (X-HCP-Client, X-HCP-Key, X-HCP-Timestamp, X-HCP-Nonce, "
                           "X-HCP-Signature)")
    if not stamp.isdigit():
        raise ApiAuthError("X-HCP-Timestamp must be Unix seconds")
    if abs(time.time() - int(stamp)) > settings.api_clock_skew_seconds:
        raise ApiAuthError(f"timestamp outside the allowed clock skew of {settings.api_clock_skew_seconds} s")
    if not NONCE.match(nonce):
        raise ApiAuthError("X-HCP-Nonce must be 16–64 letters, digits, '-' or '_'")
    async with services.store.read() as session:
        row = (await session.execute(
            select(ApiClient.id, ApiClient.active, ApiClientKey.secret_enc, ApiClientKey.revoked_at)
            .join(ApiClientKey, ApiClientKey.client_id == ApiClient.id)
            .where(ApiClient.code == client_code, ApiClientKey.key_id == key_id))).first()
    if row is None or not row.active or row.revoked_at is not None:
        raise ApiAuthError("unknown client or key, or the key was revoked")
    try:
        secret = services.cipher.open(row.secret_enc)
    except PersonalDataError:
        raise ApiAuthError("the client's key cannot be read (data key missing)", status=500) from None
    if not signature_matches(secret.encode(), signature, stamp, nonce, request.method, request.url.path, body):
        raise ApiAuthError("bad signature")
    now = datetime.now(UTC)
    async with services.store.write() as session:
        inserted = (await session.execute(insert_ignoring(dialect_of(session), ApiNonce, ("client_id", "nonce"), "id"),
                                          {"client_id": row.id, "nonce": nonce, "seen_at": now})).scalar_one_or_none()
        if inserted is None:
            raise ApiAuthError("replayed request (nonce already used)")
        await session.execute(delete(ApiNonce).where(
            ApiNonce.seen_at < now - timedelta(seconds=2 * settings.api_clock_skew_seconds)))
    return ApiCaller(row.id, client_code, key_id)
