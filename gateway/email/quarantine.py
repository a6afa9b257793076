"""Messages that could not be parsed or ingested: kept with their raw bytes, shown to staff,
and reprocessed after a fix (never dropped)."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any

from gateway.core.db.dialect import insert_for
from gateway.core.db.models import Blob
from gateway.core.services import Services
from gateway.email.options import QUARANTINE_PREFIX, utc_now
from gateway.email.state import load_state, save_state, states_with_prefix

log = logging.getLogger(__name__)


# ----- quarantine ------------------------------------------------------------------------------------

async def quarantine(services: Services, raw: bytes, reason: str, *, uid: int | None = None,
                     received_at: datetime | None = None) -> str:
    """Keep bytes that could not become a case, for staff to look at and reprocess after a fix."""
    sha = hashlib.sha256(raw).hexdigest()
    stored = len(raw) <= services.settings.max_blob_bytes
    if stored:
        async with services.store.write() as session:
            await session.execute(insert_for(session)(Blob).values(
                sha256=sha, size=len(raw), media_type="message/rfc822", data=raw, created_at=utc_now(),
            ).on_conflict_do_nothing(index_elements=[Blob.sha256]))
    key = QUARANTINE_PREFIX + sha[:32]
    earlier = await load_state(services, key)
    await save_state(services, key, {
        "sha256": sha, "size": len(raw), "reason": reason[:500], "uid": uid, "stored": stored,
        "at": utc_now().isoformat(), "first_at": earlier.get("first_at") or utc_now().isoformat(),
        "attempts": int(earlier.get("attempts", 0)) + 1,
        "received_at": received_at.isoformat() if received_at else earlier.get("received_at")})
    log.warning("email: quarantined message uid=%s sha256=%s: %s", uid, sha[:12], reason[:200])
    return sha


async def quarantined(services: Services, *, include_resolved: bool = False) -> list[dict[str, Any]]:
    """Quarantine entries, newest first (resolved ones only when asked)."""
    entries = [value for _, value in await states_with_prefix(services, QUARANTINE_PREFIX)]
    if not include_resolved:
        entries = [entry for entry in entries if not entry.get("resolved_at")]
    return sorted(entries, key=lambda entry: entry.get("at", ""), reverse=True)


async def find_quarantined(services: Services, sha_prefix: str) -> dict[str, Any]:
    """The one entry whose SHA-256 starts with ``sha_prefix`` (at least 8 hex digits)."""
    prefix = sha_prefix.strip().lower()
    if len(prefix) < 8 or any(ch not in "0123456789abcdef" for ch in prefix):
        raise LookupError("give at least 8 hexadecimal digits of the SHA-256")
    matches = [e for e in await quarantined(services, include_resolved=True) if e["sha256"].startswith(prefix)]
    if len(matches) != 1:
        raise LookupError(f"{len(matches)} quarantined messages match {prefix!r}")
    return matches[0]
