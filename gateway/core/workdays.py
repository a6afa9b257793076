"""The working-day calendar as the gateway sees it: library data, imported schedules and the
administrator's overrides.

Overrides are read from the database with a short time-to-live, so an administrator's change in
one process reaches every other process within ``ttl`` seconds without any shared memory.

Every change of the calendar (an override set or removed, a year's schedule imported) recomputes
the deadlines of every open case in the same transaction (``gateway.core.recompute``), with a
timeline event on each case whose deadline moved.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.db.dialect import insert_for
from gateway.core.db.models import CalendarOverride, CalendarSchedule
from gateway.core.db.store import Store
from gateway.core.deadlines import DeadlinePolicy, WorkCalendar
from gateway.core.recompute import recompute_open_deadlines
from gateway.core.schedule import Schedule
from gateway.core.settings import Settings

IMPORT_NOTE = "[导入] "  # prefix of the overrides an import wrote, so a re-import replaces exactly those


@dataclass(frozen=True)
class ImportResult:
    year: int
    holidays: int
    workdays: int
    cases_moved: int


class CalendarProvider:
    """Builds ``WorkCalendar`` objects with the current overrides and imported years."""

    def __init__(self, store: Store, settings: Settings, *, ttl: float = 30.0) -> None:
        self.store = store
        self.settings = settings
        self.ttl = ttl
        self._cached: WorkCalendar | None = None
        self._loaded_at = 0.0

    async def get(self) -> WorkCalendar:
        if self._cached is None or time.monotonic() - self._loaded_at > self.ttl:
            async with self.store.read() as session:
                self._cached = await self._build(session)
            self._loaded_at = time.monotonic()
        return self._cached

    async def _build(self, session: AsyncSession) -> WorkCalendar:
        rows = (await session.execute(select(CalendarOverride.day, CalendarOverride.workday))).all()
        years = (await session.execute(select(CalendarSchedule.year))).scalars().all()
        return WorkCalendar(tz=self.settings.timezone, office_hours=self.settings.office_intervals,
                            overrides={row.day: row.workday for row in rows}, known_years=frozenset(years))

    def invalidate(self) -> None:
        self._cached = None

    async def _recompute(self, session: AsyncSession, actor: str, reason: str) -> int:
        await session.flush()
        calendar = await self._build(session)
        return await recompute_open_deadlines(session, calendar, DeadlinePolicy.from_settings(self.settings),
                                              actor=actor, reason=reason, now=datetime.now(UTC))

    async def set_override(self, day: date, workday: bool, *, note: str | None, actor: str) -> int:
        """Declare ``day`` a working day or a day off, replacing any earlier override for it; return
        how many open cases' deadlines moved."""
        async with self.store.write() as session:
            statement = insert_for(session)(CalendarOverride).values(
                day=day, workday=workday, note=note, updated_by=actor, updated_at=datetime.now(UTC))
            await session.execute(statement.on_conflict_do_update(
                index_elements=[CalendarOverride.day],
                set_={"workday": workday, "note": note, "updated_by": actor, "updated_at": datetime.now(UTC)},
            ))
            moved = await self._recompute(session, actor, f"{day} 调整为{'工作日' if workday else '休息日'}")
        self.invalidate()
        return moved

    async def remove_override(self, day: date, *, actor: str = "admin:cli") -> bool:
        async with self.store.write() as session:
            result = await session.execute(delete(CalendarOverride).where(CalendarOverride.day == day))
            if result.rowcount:
                await self._recompute(session, actor, f"{day} 恢复为默认安排")
        self.invalidate()
        return bool(result.rowcount)

    async def import_schedule(self, schedule: Schedule, *, actor: str) -> ImportResult:
        """Write a year's official schedule and recompute every open case, all in one transaction.

        A re-import of the same year replaces what the earlier import wrote; an administrator's own
        override of a day the schedule does not list is kept."""
        now = datetime.now(UTC)
        start, end = date(schedule.year, 1, 1), date(schedule.year, 12, 31)
        async with self.store.write() as session:
            await session.execute(delete(CalendarOverride).where(
                CalendarOverride.day >= start, CalendarOverride.day <= end,
                CalendarOverride.note.like(f"{IMPORT_NOTE}%")))
            insert = insert_for(session)
            for day, (workday, name) in sorted(schedule.days().items()):
                note = f"{IMPORT_NOTE}{name}"[:200]
                await session.execute(insert(CalendarOverride).values(
                    day=day, workday=workday, note=note, updated_by=actor, updated_at=now).on_conflict_do_update(
                    index_elements=[CalendarOverride.day],
                    set_={"workday": workday, "note": note, "updated_by": actor, "updated_at": now}))
            values = {"source": schedule.source, "holidays": len(schedule.holidays),
                      "workdays": len(schedule.workdays), "imported_by": actor, "imported_at": now}
            await session.execute(insert(CalendarSchedule).values(year=schedule.year, **values)
                                  .on_conflict_do_update(index_elements=[CalendarSchedule.year], set_=values))
            moved = await self._recompute(session, actor, f"导入 {schedule.year} 年节假日安排")
        self.invalidate()
        return ImportResult(schedule.year, len(schedule.holidays), len(schedule.workdays), moved)

    async def list_overrides(self) -> list[CalendarOverride]:
        async with self.store.read() as session:
            return list((await session.execute(select(CalendarOverride).order_by(CalendarOverride.day))).scalars())

    async def missing_schedule(self, now: datetime | None = None) -> int | None:
        """The year whose official schedule staff must enter now, or ``None``.

        This year's, whenever it is unknown; next year's from ``calendar_warning_from`` (1 November)."""
        return self._missing(await self.get(), now)

    def missing_schedule_cached(self, now: datetime | None = None) -> int | None:
        """``missing_schedule`` from the calendar this process last loaded (no database read: for
        the banner of every staff page); ``None`` before the first load."""
        return self._missing(self._cached, now) if self._cached is not None else None

    def _missing(self, calendar: WorkCalendar, now: datetime | None) -> int | None:
        today = (now or datetime.now(UTC)).astimezone(ZoneInfo(self.settings.timezone)).date()
        if not calendar.knows_year(today.year):
            return today.year
        month, day = (int(part) for part in self.settings.calendar_warning_from.split("-"))
        if (today.month, today.day) >= (month, day) and not calendar.knows_year(today.year + 1):
            return today.year + 1
        return None
