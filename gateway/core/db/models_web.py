"""Tables of the web feature (see gateway/core/db/schema.py for how feature tables are collected).

Only one: wrong guesses at the public status lookup.  The lookup's second factor is four digits
(the phone's last four, or a derived 查询码), so the count of wrong guesses per tracking code must
survive restarts and be shared by every gateway process; an in-memory throttle alone would give an
attacker a fresh allowance per process and per restart.  Submissions need no table of their own:
the one-time form token is the ``source_ref`` of ``case_messages``, whose unique key already makes
each submission land once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db.models import Base
from gateway.core.db.types import BigId


class LookupAttempt(Base):
    """One status lookup for ``code`` that has not (yet) proved right; deleted when it does."""

    __tablename__ = "web_lookup_attempts"
    __table_args__ = (Index("ix_web_lookup_attempts_code_at", "code", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(index=True)
