"""Working-day calendar, office hours and the legal response deadlines of each category.

The rules (嘉政办发〔2021〕21号, three tracks):

* ``immediate`` (立整立改): a call back within **1 hour of office time**.  The hour counts only
  minutes inside office hours on working days, so an e-mail that arrives at 22:00 starts its hour
  when the office opens the next working day, and the lunch break does not count.
* ``time_limited`` (限时整改): a first reply within **1 working day**, the result within
  **3 working days**.
* ``coordinated`` (协调整改): the handler sets the due date; a reminder to contact the citizen
  comes ``coordinated_reminder_working_days`` working days before it.

What the rules leave open is set by ``DeadlinePolicy`` (settings ``HCP_*_WORKING_DAYS``):

* 立整立改 "回访结束后立即整改": the rectification result is due when the office closes on the
  ``immediate_result_working_days``-th working day (default 1) after the day of the call-back
  deadline.  Counting from the deadline rather than the call itself keeps a late call from
  buying time.
* 协调整改 without a handler's date: a *provisional* result deadline ``coordinated_default_working_days``
  (default 10) working days after receipt, flagged (``provisional``) until a person sets one.
* a 差评 whose text names no rectification track (triage ``none``) is verified and answered on the
  限时整改 clock (first response 1, result 3 working days): the rating makes it a 差评.
* 咨询 (inquiry): the answer is due in ``inquiry_reply_working_days`` (default 1); 建议
  (suggestion): the acknowledgement in ``suggestion_reply_working_days`` (default 5).
  Praise, spam and empty items have no deadline: they close on arrival.

"N working days" follows the usual rule of Chinese administrative law for periods (the day of
receipt is not counted): day 1 is the first working day *after* the calendar day on which the
item was received, and the period ends when the office closes on day N.  Working days are the
days ``chinese_calendar`` calls workdays (statutory holidays removed, make-up workdays added),
corrected by the administrator's override table.  For a day the library does not cover and the
table does not mention, Monday–Friday is assumed and the deadline is marked ``certain=False``,
so the interface can flag it instead of silently trusting it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import chinese_calendar

from gateway.core.domain import Category

MAX_SCAN_DAYS = 400


@dataclass(frozen=True, slots=True)
class DayKind:
    """Whether a day is a working day, and whether anything authoritative said so."""

    workday: bool
    known: bool


def library_knows_year(year: int) -> bool:
    """Whether the installed chinese-calendar ships the State Council schedule of ``year``."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Deadline:
    """A point in time, with ``certain=False`` when a guessed calendar day went into it."""

    at: datetime
    certain: bool = True


class WorkCalendar:
    """China's working days with an administrator's overrides and configurable office hours."""

    def __init__(
        self,
        *,
        tz: str | ZoneInfo = "Asia/Shanghai",
        office_hours: tuple[tuple[time, time], ...] = ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 0))),
        overrides: Mapping[date, bool] | None = None,
        known_years: frozenset[int] = frozenset(),
    ) -> None:
        self.tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        self.office_hours = office_hours
        self.overrides: Mapping[date, bool] = MappingProxyType(dict(overrides or {}))
        # Years whose official schedule was imported (``hcp calendar import``): their days off and
        # make-up workdays are overrides, every other day follows the weekday, and all are known.
        self.known_years = frozenset(known_years)
        self._kinds: dict[date, DayKind] = {}

    def day_kind(self, day: date) -> DayKind:
        """Remembered per day: every case asks for the same few days, and chinese-calendar
        validates its argument on each call (a measurable share of an e-mail batch's commit)."""
        kind = self._kinds.get(day)
        if kind is None:
            kind = self._kinds[day] = self._look_up(day)
        return kind

    def _look_up(self, day: date) -> DayKind:
        if day in self.overrides:
            return DayKind(self.overrides[day], True)
        if day.year in self.known_years:
            return DayKind(day.weekday() < 5, True)
        try:
            return DayKind(chinese_calendar.is_workday(day), True)
        except NotImplementedError:  # a year chinese-calendar does not cover: Monday-Friday, flagged
            return DayKind(day.weekday() < 5, False)

    def knows_year(self, year: int) -> bool:
        """Whether the year's official schedule is known (imported, or in chinese-calendar)."""
        return year in self.known_years or library_knows_year(year)

    def is_workday(self, day: date) -> bool:
        return self.day_kind(day).workday

    def next_workday(self, after: date) -> tuple[date, bool]:
        """The first working day strictly after ``after``, and whether every day passed was known."""
        certain = True
        day = after
        for _ in range(MAX_SCAN_DAYS):
            day += timedelta(days=1)
            kind = self.day_kind(day)
            certain &= kind.known
            if kind.workday:
                return day, certain
        raise ValueError(f"no working day within {MAX_SCAN_DAYS} days after {after}")

    def closing_time(self, day: date) -> datetime:
        return datetime.combine(day, self.office_hours[-1][1], self.tz)

    def add_working_days(self, start: datetime, days: int) -> Deadline:
        """Office close on the ``days``-th working day after the calendar day of ``start``."""
        if days < 1:
            raise ValueError("a period of working days must be at least 1")
        day = start.astimezone(self.tz).date()
        certain = True
        for _ in range(days):
            day, known = self.next_workday(day)
            certain &= known
        return Deadline(self.closing_time(day), certain)

    def subtract_working_days(self, end: datetime, days: int) -> Deadline:
        """Office opening on the working day ``days`` working days before ``end``'s day."""
        day = end.astimezone(self.tz).date()
        certain = True
        remaining = days
        for _ in range(MAX_SCAN_DAYS):
            if remaining == 0:
                break
            day -= timedelta(days=1)
            kind = self.day_kind(day)
            certain &= kind.known
            if kind.workday:
                remaining -= 1
        return Deadline(datetime.combine(day, self.office_hours[0][0], self.tz), certain)

    def add_office_time(self, start: datetime, duration: timedelta) -> Deadline:
        """The moment at which ``duration`` of office time has passed since ``start``."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        local = start.astimezone(self.tz)
        remaining = duration
        day = local.date()
        certain = True
        for _ in range(MAX_SCAN_DAYS):
            kind = self.day_kind(day)
            certain &= kind.known
            if kind.workday:
                for opens, closes in self.office_hours:
                    begin = max(datetime.combine(day, opens, self.tz), local)
                    end = datetime.combine(day, closes, self.tz)
                    if begin >= end:
                        continue
                    if begin + remaining <= end:
                        return Deadline(begin + remaining, certain)
                    remaining -= end - begin
            day += timedelta(days=1)
        raise ValueError(f"office time of {duration} does not fit in {MAX_SCAN_DAYS} days")

    def is_office_time(self, moment: datetime) -> bool:
        local = moment.astimezone(self.tz)
        if not self.is_workday(local.date()):
            return False
        return any(opens <= local.time() < closes for opens, closes in self.office_hours)


@dataclass(frozen=True, slots=True)
class CaseDeadlines:
    """What the handler owes the citizen and by when; ``None`` where nothing is owed.

    ``provisional``: the result deadline is the default of a 协调整改 case, not a person's date."""

    first_response_due: datetime | None
    result_due: datetime | None
    certain: bool
    provisional: bool = False


@dataclass(frozen=True, slots=True)
class DeadlinePolicy:
    """The periods the rules leave to the office; ``from_settings`` reads them from ``Settings``."""

    inquiry_reply_working_days: int = 1
    suggestion_reply_working_days: int = 5
    immediate_result_working_days: int = 1
    coordinated_default_working_days: int = 10

    @classmethod
    def from_settings(cls, settings: object) -> DeadlinePolicy:
        return cls(**{name: getattr(settings, name) for name in cls.__dataclass_fields__})


ANSWERED_REASONS = {"inquiry": "inquiry_reply_working_days", "suggestion": "suggestion_reply_working_days"}


def deadlines_for(category: Category | str | None, received_at: datetime, calendar: WorkCalendar, *,
                  bad: bool = False, reason: str | None = None,
                  policy: DeadlinePolicy | None = None) -> CaseDeadlines:
    """The due times of a case, counted from ``received_at``: the category's track; for a 差评
    (``bad``) without one, the 限时整改 clock; for an inquiry or a suggestion, the answer."""
    policy = policy or DeadlinePolicy()
    category = Category(category) if category else None
    if category is Category.IMMEDIATE:
        first = calendar.add_office_time(received_at, timedelta(hours=1))
        result = calendar.add_working_days(first.at, policy.immediate_result_working_days)
        return CaseDeadlines(first.at, result.at, first.certain and result.certain)
    if category is Category.TIME_LIMITED or (bad and category in (None, Category.NONE)):
        first = calendar.add_working_days(received_at, 1)
        result = calendar.add_working_days(received_at, 3)
        return CaseDeadlines(first.at, result.at, first.certain and result.certain)
    if category is Category.COORDINATED:
        result = calendar.add_working_days(received_at, policy.coordinated_default_working_days)
        return CaseDeadlines(None, result.at, result.certain, provisional=True)
    if reason in ANSWERED_REASONS:
        first = calendar.add_working_days(received_at, getattr(policy, ANSWERED_REASONS[reason]))
        return CaseDeadlines(first.at, None, first.certain)
    return CaseDeadlines(None, None, True)


def coordinated_reminder(due: datetime, calendar: WorkCalendar, working_days: int) -> Deadline:
    """When to remind the handler to tell the citizen the reason and a new date (协调整改)."""
    if working_days == 0:
        return Deadline(due, True)
    return calendar.subtract_working_days(due, working_days)
