"""Client systems and their keys: register, rotate (new key live beside the old), revoke."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from gateway.core.db.models_matters import ApiClient, ApiClientKey
from gateway.core.db.store import Store
from gateway.core.personal import PersonalDataCipher
from gateway.core.safe_text import check_name

CLIENT_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,31}$")


class ClientError(ValueError):
    """A client or key operation that cannot be done."""


@dataclass(frozen=True)
class IssuedKey:
    client: str
    key_id: str
    secret: str  # shown once, to be configured in the client system


def _new_key(client_id: int, key_id: str, cipher: PersonalDataCipher) -> tuple[ApiClientKey, str]:
    secret = secrets.token_urlsafe(32)
    sealed = cipher.seal(secret)
    assert sealed is not None
    return ApiClientKey(client_id=client_id, key_id=key_id, secret_enc=sealed, created_at=datetime.now(UTC)), secret


async def add_client(store: Store, cipher: PersonalDataCipher, code: str, name: str) -> IssuedKey:
    if not CLIENT_CODE.match(code):
        raise ClientError("client code must be 2–32 lower-case letters, digits, '-' or '_'")
    try:
        name = check_name(name, "client name")[:100]
    except ValueError as exc:
        raise ClientError(str(exc)) from None
    async with store.write() as session:
        if (await session.execute(select(ApiClient.id).where(ApiClient.code == code))).first():
            raise ClientError(f"client {code!r} already exists")
        client = ApiClient(code=code, name=name.strip() or code, active=True, created_at=datetime.now(UTC))
        session.add(client)
        await session.flush()
        key, secret = _new_key(client.id, "k1", cipher)
        session.add(key)
    return IssuedKey(code, "k1", secret)


async def _client(session, code: str) -> ApiClient:  # type: ignore[no-untyped-def]
    client = (await session.execute(select(ApiClient).where(ApiClient.code == code))).scalar_one_or_none()
    if client is None:
        raise ClientError(f"no client named {code!r}")
    return client


async def rotate_key(store: Store, cipher: PersonalDataCipher, code: str) -> IssuedKey:
    """Issue a new key; the old ones stay valid until revoked, so the client can switch without downtime."""
    async with store.write() as session:
        client = await _client(session, code)
        existing = list((await session.execute(select(ApiClientKey.key_id).where(
            ApiClientKey.client_id == client.id))).scalars())
        number = 1 + max((int(k[1:]) for k in existing if k[1:].isdigit()), default=0)
        key, secret = _new_key(client.id, f"k{number}", cipher)
        session.add(key)
    return IssuedKey(code, f"k{number}", secret)


async def revoke_key(store: Store, code: str, key_id: str) -> None:
    async with store.write() as session:
        client = await _client(session, code)
        key = (await session.execute(select(ApiClientKey).where(ApiClientKey.client_id == client.id,
                                                                ApiClientKey.key_id == key_id))).scalar_one_or_none()
        if key is None:
            raise ClientError(f"client {code!r} has no key {key_id!r}")
        key.revoked_at = key.revoked_at or datetime.now(UTC)


async def set_active(store: Store, code: str, active: bool) -> None:
    async with store.write() as session:
        (await _client(session, code)).active = active


async def list_clients(store: Store) -> list[dict]:  # type: ignore[type-arg]
    async with store.read() as session:
        clients = list((await session.execute(select(ApiClient).order_by(ApiClient.code))).scalars())
        keys = list((await session.execute(select(ApiClientKey).order_by(ApiClientKey.id))).scalars())
    return [{"code": c.code, "name": c.name, "active": c.active,
             "keys": [{"key_id": k.key_id, "created_at": k.created_at.isoformat(),
                       "revoked": k.revoked_at is not None} for k in keys if k.client_id == c.id]}
            for c in clients]
