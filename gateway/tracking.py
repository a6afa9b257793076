"""Public tracking codes that a citizen can read over the phone: ``JX20261128-0007``.

Prefix, then the local date of receipt, then the day's sequence number (four digits, more when a
day passes 9,999).  The sequence comes from a per-day counter row updated in the same transaction
that creates the case, so codes are unique and gap-free across processes.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.dialect import insert_for
from gateway.db.models import TrackingCounter

CODE_RE = re.compile(r"(?<![A-Za-z0-9])([A-Z]{1,4})(\d{8})-(\d{4,6})(?![0-9])")


def day_key(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y%m%d")


def format_code(prefix: str, day: str, sequence: int) -> str:
    return f"{prefix}{day}-{sequence:04d}"


def find_codes(text: str, prefix: str) -> list[str]:
    """Tracking codes with our prefix quoted anywhere in ``text`` (subject, body, SMS)."""
    normalized = text.upper().replace("－", "-").replace("—", "-")
    return [m.group(0) for m in CODE_RE.finditer(normalized) if m.group(1) == prefix]


async def next_code(session: AsyncSession, prefix: str, day: str) -> str:
    """Reserve the next code for ``day`` inside the caller's transaction."""
    statement = insert_for(session)(TrackingCounter).values(day=day, last=1)
    statement = statement.on_conflict_do_update(
        index_elements=[TrackingCounter.day], set_={"last": TrackingCounter.last + 1}
    ).returning(TrackingCounter.last)
    sequence = (await session.execute(statement)).scalar_one()
    return format_code(prefix, day, sequence)
