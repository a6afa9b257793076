"""Tables of the web feature (see gateway/core/db/schema.py for how feature tables are collected).

Wrong guesses at the public status lookup.  The lookup's second factor is four digits
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
    # The client address (a keyed hash, never the address itself): the limit is per address and code.
    client: Mapped[str | None] = mapped_column(String(64))


class RateHit(Base):
    """One counted event of a rate limit (a web-form post per address, per window), in the database
    so that every gateway behind a load balancer enforces one limit, not one each."""

    __tablename__ = "rate_hits"
    __table_args__ = (Index("ix_rate_hits_key_at", "key", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(index=True)
