"""Content-addressed storage of raw originals, scans and attachments in the shared database."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from gateway.core.db.dialect import dialect_of, insert_ignoring
from gateway.core.db.models import Blob


class BlobTooLarge(ValueError):
    """The bytes exceed the configured ``HCP_MAX_BLOB_BYTES``."""


def put_blob(session: Session, data: bytes, media_type: str, *, max_bytes: int) -> str:
    """Store ``data`` once, whoever stores it how often; return its SHA-256."""
    if len(data) > max_bytes:
        raise BlobTooLarge(f"{len(data)} bytes exceed the limit of {max_bytes} bytes")
    digest = hashlib.sha256(data).hexdigest()
    session.execute(insert_ignoring(dialect_of(session), Blob, ("sha256",)), {
        "sha256": digest, "size": len(data), "media_type": media_type, "data": data, "created_at": datetime.now(UTC)})
    return digest


async def get_blob(session: AsyncSession, sha256: str) -> Blob | None:
    return (await session.execute(select(Blob).where(Blob.sha256 == sha256))).scalar_one_or_none()
