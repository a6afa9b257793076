"""The moment an answer reached the citizen (``cases.reply_delivered_at``), which 答复率 counts.

Pressing 答复 is not reaching the citizen: an SMS counts when its provider reports it delivered,
an e-mail when the receiving server accepted it, a call when it was logged as made.  Each of those
places runs the one statement below (in its own transaction, sync or async session alike); the
first wins, later ones change nothing.  ``updated_at`` moves so the results roll-up rebuilds the
case's day.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Update, update

from gateway.core.db.models import Case

# Outbox kinds whose delivery means the citizen has the answer (or was told where to read it).
ANSWER_KINDS = frozenset({"reply", "reply_notice"})


def mark_answer_delivered(case_id: int, at: datetime) -> Update:
    """The UPDATE that records the first delivered answer of ``case_id`` at ``at``."""
    return (update(Case).where(Case.id == case_id, Case.reply_delivered_at.is_(None))
            .values(reply_delivered_at=at, updated_at=at))
