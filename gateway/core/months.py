"""Calendar-month stepping, in one place.

Every "previous month", "following month", "twelve months back" and "last day of the month" in the
gateway goes through these helpers: hand-written ``month + 1`` broke the public page every December
(month 13). The arithmetic is on a single month index (``year * 12 + month - 1``), so it never
leaves 1..12 whatever the step.
"""

from __future__ import annotations

import calendar
from datetime import date

# ``date`` supports years 1..9999; a stepped month outside that range is refused with ValueError.
FIRST_MONTH = date(1, 1, 1)
LAST_MONTH = date(9999, 12, 1)


def first_of_month(day: date) -> date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    """The first day of the month ``months`` after ``day``'s month (negative steps go back).

    >>> add_months(date(2026, 12, 31), 1)
    datetime.date(2027, 1, 1)
    >>> add_months(date(2027, 1, 15), -1)
    datetime.date(2026, 12, 1)
    """
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise ValueError(f"month out of range: {months:+d} months from {day:%Y-%m}")
    return date(year, month0 + 1, 1)


def last_of_month(day: date) -> date:
    """The last day of ``day``'s month (28, 29, 30 or 31)."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def first_of_year(day: date) -> date:
    return date(day.year, 1, 1)
