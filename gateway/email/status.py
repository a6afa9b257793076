"""What staff see of the e-mail channel on ``/email`` and in ``hcp email status``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from gateway.core.db.models import OutboxMessage
from gateway.core.services import Services
from gateway.email.options import STATE_KEY
from gateway.email.quarantine import quarantined
from gateway.email.state import load_state

# ----- status ---------------------------------------------------------------------------------------

async def email_status(services: Services) -> dict[str, Any]:
    """What staff see on ``/email`` and in ``hcp email status`` (no personal data)."""
    s = services.settings
    imap = await load_state(services, STATE_KEY)
    job = await load_state(services, "job:email-poll")
    entries = await quarantined(services, include_resolved=True)
    async with services.store.read() as session:
        outbox = {status: count for status, count in (await session.execute(
            select(OutboxMessage.status, func.count()).where(OutboxMessage.channel == "email")
            .group_by(OutboxMessage.status))).all()}
        failures = [
            {"id": row.id, "kind": row.kind, "case_id": row.case_id, "error": row.last_error,
             "attempts": row.attempts, "at": row.next_attempt_at}
            for row in (await session.execute(
                select(OutboxMessage).where(OutboxMessage.channel == "email", OutboxMessage.status == "failed")
                .order_by(OutboxMessage.id.desc()).limit(20))).scalars()]
    return {
        "imap_configured": bool(s.imap_host and s.imap_user and s.imap_password),
        "smtp_configured": bool(s.smtp_host and s.smtp_from),
        "imap_server": f"{s.imap_host}:{s.imap_port or ('993' if s.imap_security == 'tls' else '143')}"
                       if s.imap_host else None,
        "imap_security": s.imap_security, "imap_folder": s.imap_folder,
        "smtp_server": f"{s.smtp_host}:{s.smtp_port or ''}".rstrip(":") if s.smtp_host else None,
        "smtp_security": s.smtp_security,
        "imap": imap, "job": job,
        "quarantined": [e for e in entries if not e.get("resolved_at")],
        "resolved": [e for e in entries if e.get("resolved_at")][:20],
        "outbox": outbox, "outbox_failures": failures,
    }
