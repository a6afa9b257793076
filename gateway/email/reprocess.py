"""Reprocessing a quarantined message after a fix: today's parser and the one ingest, again.

Apart from ``quarantine`` because it drives the IMAP poller's ``process``, which itself
quarantines what fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.core.blobs import get_blob
from gateway.core.services import Services
from gateway.email.imap import ImapPoller
from gateway.email.options import QUARANTINE_PREFIX, EmailOptions, utc_now
from gateway.email.quarantine import find_quarantined
from gateway.email.state import load_state, save_state


@dataclass(frozen=True, slots=True)
class Reprocessed:
    outcome: str
    """``ingested``, ``follow_up``, ``duplicate``, ``auto``, ``bounce`` or ``quarantined`` (still failing)."""
    case_code: str | None = None
    reason: str | None = None


async def reprocess_quarantined(services: Services, sha_prefix: str, *, by: str,
                                poller: ImapPoller | None = None) -> Reprocessed:
    """Run a quarantined message through today's parser and ingest again (after a fix).

    Success marks the entry resolved (kept, with the case it became); a message that still fails
    stays quarantined with the new reason.  Idempotent: the ingest's exactly-once rule holds.
    """
    entry = await find_quarantined(services, sha_prefix)
    if entry.get("resolved_at"):
        return Reprocessed(entry.get("outcome", "ingested"), entry.get("case_code"))
    async with services.store.read() as session:
        blob = await get_blob(session, entry["sha256"])
    if blob is None:
        raise LookupError("the raw message was larger than HCP_MAX_BLOB_BYTES and was not kept; "
                          "raise the limit and poll again from the mailbox")
    received = entry.get("received_at")
    if poller is None:
        poller = ImapPoller(services, EmailOptions())
    outcome, result = await poller.process(bytes(blob.data), datetime.fromisoformat(received) if received else None,
                                           uid=entry.get("uid"))
    key = QUARANTINE_PREFIX + entry["sha256"][:32]
    if outcome == "quarantined":
        return Reprocessed(outcome, reason=(await load_state(services, key)).get("reason"))
    code = result.case_code if result is not None else None
    await save_state(services, key, {**entry, "resolved_at": utc_now().isoformat(), "resolved_by": by[:64],
                                     "outcome": outcome, "case_code": code})
    return Reprocessed(outcome, code)
