"""Public tracking codes that a citizen can read over the phone: ``JX20261128-0007``.

Prefix, then the local date of receipt, then the day's sequence number (four digits, more when a
day passes 9,999).  The sequence comes from a per-day counter row updated in the same transaction
that creates the case, so codes are unique and gap-free across processes.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam
from sqlalchemy.orm import Session

from gateway.core.db.dialect import dialect_of, insert_for_dialect
from gateway.core.db.models import TrackingCounter

CODE_RE = re.compile(r"(?<![A-Za-z0-9])([A-Z]{1,4})(\d{8})-(\d{4,6})(?![0-9])")


def day_key(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y%m%d")


def format_code(prefix: str, day: str, sequence: int) -> str:
    return f"{prefix}{day}-{sequence:04d}"


def find_codes(text: str, prefix: str) -> list[str]:
    """Tracking codes with our prefix quoted anywhere in ``text`` (subject, body, SMS)."""
    normalized = text.upper().replace("－", "-").replace("—", "-")
    return [m.group(0) for m in CODE_RE.finditer(normalized) if m.group(1) == prefix]


@cache
def _next_statement(dialect: str) -> Any:
    table = TrackingCounter.__table__
    return insert_for_dialect(dialect)(table).on_conflict_do_update(
        index_elements=[table.c.day], set_={"last": table.c.last + bindparam("count")}).returning(table.c.last)


def next_codes(session: Session, prefix: str, day: str, count: int) -> list[str]:
    """Reserve the next ``count`` codes for ``day`` inside the caller's transaction, in order."""
    last = (session.execute(_next_statement(dialect_of(session)), {"day": day, "last": count, "count": count})
            ).scalar_one()
    return [format_code(prefix, day, sequence) for sequence in range(last - count + 1, last + 1)]


def next_code(session: Session, prefix: str, day: str) -> str:
    """Reserve the next code for ``day`` inside the caller's transaction."""
    return next_codes(session, prefix, day, 1)[0]
