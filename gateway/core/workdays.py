"""The working-day calendar as the gateway sees it: library data plus the override table.

Overrides are read from the database with a short time-to-live, so an administrator's change in
one process reaches every other process within ``ttl`` seconds without any shared memory.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

from sqlalchemy import delete, select

from gateway.core.db.dialect import insert_for
from gateway.core.db.models import CalendarOverride
from gateway.core.db.store import Store
from gateway.core.deadlines import WorkCalendar
from gateway.core.settings import Settings


class CalendarProvider:
    """Builds ``WorkCalendar`` objects with the current overrides."""

    def __init__(self, store: Store, settings: Settings, *, ttl: float = 30.0) -> None:
        self.store = store
        self.settings = settings
        self.ttl = ttl
        self._cached: WorkCalendar | None = None
        self._loaded_at = 0.0

    async def get(self) -> WorkCalendar:
        if self._cached is None or time.monotonic() - self._loaded_at > self.ttl:
            async with self.store.read() as session:
                rows = (await session.execute(select(CalendarOverride.day, CalendarOverride.workday))).all()
            self._cached = WorkCalendar(
                tz=self.settings.timezone,
                office_hours=self.settings.office_intervals,
                overrides={row.day: row.workday for row in rows},
            )
            self._loaded_at = time.monotonic()
        return self._cached

    def invalidate(self) -> None:
        self._cached = None

    async def set_override(self, day: date, workday: bool, *, note: str | None, actor: str) -> None:
        """Declare ``day`` a working day or a day off, replacing any earlier override for it."""
        async with self.store.write() as session:
            statement = insert_for(session)(CalendarOverride).values(
                day=day, workday=workday, note=note, updated_by=actor, updated_at=datetime.now(UTC))
            await session.execute(statement.on_conflict_do_update(
                index_elements=[CalendarOverride.day],
                set_={"workday": workday, "note": note, "updated_by": actor, "updated_at": datetime.now(UTC)},
            ))
        self.invalidate()

    async def remove_override(self, day: date) -> bool:
        async with self.store.write() as session:
            result = await session.execute(delete(CalendarOverride).where(CalendarOverride.day == day))
        self.invalidate()
        return bool(result.rowcount)

    async def list_overrides(self) -> list[CalendarOverride]:
        async with self.store.read() as session:
            return list((await session.execute(select(CalendarOverride).order_by(CalendarOverride.day))).scalars())
