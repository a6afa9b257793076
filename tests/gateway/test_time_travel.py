"""Time travel (issue 16, point 8): the workflow, the deadlines, the reminders and the results at
chosen instants — New Year's Eve and Day in Asia/Shanghai, the last and first day of every month,
29 February 2028, the eve of Spring Festival and of National Day, a Friday evening before a
holiday, and years chinese-calendar does not know.  The clock is frozen with time-machine; no test
here depends on today's date.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from gateway.app import create_app
from gateway.core import cases as ops
from gateway.core.db.models import Case, CaseReminder
from gateway.core.deadlines import WorkCalendar, deadlines_for
from gateway.core.months import add_months, last_of_month
from gateway.core.reminders import ReminderPolicy, sweep
from gateway.core.services import Services
from gateway.results import rollup
from gateway.results.figures import Filters, Names, Period, compute, total
from tests.helpers import SHANGHAI, local, make_intake
from tests.staff import anonymous_client

CAL = WorkCalendar()
OFFICE = CAL.office_hours
POLICY = ReminderPolicy(warning=timedelta(minutes=30), coordinated_working_days=1)
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

MONTH_EDGES = [instant for month in range(1, 13) for instant in (
    datetime.combine(last_of_month(date(2026, month, 1)), time(16, 59), SHANGHAI),
    datetime.combine(date(2026, month, 1), time(8, 0), SHANGHAI))]


def workdays_between(calendar: WorkCalendar, after: date, until: date) -> int:
    """Working days in (after, until]."""
    return sum(calendar.is_workday(after + timedelta(days=i)) for i in range(1, (until - after).days + 1))


def office_time_between(calendar: WorkCalendar, start: datetime, end: datetime) -> timedelta:
    total_time = timedelta()
    day = start.astimezone(SHANGHAI).date()
    while day <= end.astimezone(SHANGHAI).date():
        if calendar.is_workday(day):
            for opens, closes in OFFICE:
                a = max(datetime.combine(day, opens, SHANGHAI), start)
                b = min(datetime.combine(day, closes, SHANGHAI), end)
                total_time += max(b - a, timedelta())
        day += timedelta(days=1)
    return total_time


# ----- deadlines: properties over any instant, and the chosen ones ------------------------------

instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31),
                        timezones=st.just(SHANGHAI))


@settings(max_examples=300, deadline=None)
@given(instants)
def test_working_day_deadlines_count_exactly_their_days(received: datetime) -> None:
    """Day 1 is the first working day after the day of receipt; the period ends at office close."""
    due = deadlines_for("time_limited", received, CAL)
    day = received.date()
    for moment, days in ((due.first_response_due, 1), (due.result_due, 3)):
        assert moment is not None and moment.time() == OFFICE[-1][1] and CAL.is_workday(moment.date())
        assert workdays_between(CAL, day, moment.date()) == days
    assert due.certain == all(CAL.day_kind(day + timedelta(days=i)).known
                              for i in range(1, (due.result_due.date() - day).days + 1))


@settings(max_examples=300, deadline=None)
@given(instants)
def test_the_immediate_hour_is_one_hour_of_office_time(received: datetime) -> None:
    due = deadlines_for("immediate", received, CAL)
    assert due.first_response_due is not None and due.result_due is not None
    assert CAL.is_office_time(due.first_response_due - timedelta(seconds=1))
    assert office_time_between(CAL, received, due.first_response_due) == timedelta(hours=1)
    assert workdays_between(CAL, due.first_response_due.date(), due.result_due.date()) == 1


@settings(max_examples=200, deadline=None)
@given(instants, st.integers(1, 30))
def test_subtracting_undoes_adding_working_days(received: datetime, days: int) -> None:
    added = CAL.add_working_days(received, days).at
    assert workdays_between(CAL, received.date(), added.date()) == days
    back = CAL.subtract_working_days(added, days).at.date()
    assert back <= received.date() or not CAL.is_workday(received.date())
    assert workdays_between(CAL, back, added.date()) == days


@pytest.mark.parametrize("received", MONTH_EDGES, ids=lambda d: f"{d:%m-%d}")
def test_deadlines_at_the_last_and_first_day_of_every_month(received: datetime) -> None:
    due = deadlines_for("time_limited", received, CAL)
    assert workdays_between(CAL, received.date(), due.first_response_due.date()) == 1
    assert workdays_between(CAL, received.date(), due.result_due.date()) == 3
    assert due.first_response_due.date() > received.date()


@pytest.mark.parametrize(("received", "category", "first", "result", "certain"), [
    # The eve of Spring Festival 2026: Saturday 14 February is a make-up workday, 15-23 off.
    (local(2026, 2, 14, 16, 30), "immediate", local(2026, 2, 24, 9, 0), local(2026, 2, 25, 17, 0), True),
    (local(2026, 2, 14, 16, 30), "time_limited", local(2026, 2, 24, 17, 0), local(2026, 2, 26, 17, 0), True),
    # The eve of National Day 2026: 1-7 October off, Saturday 10 October a make-up workday.
    (local(2026, 9, 30, 16, 50), "time_limited", local(2026, 10, 8, 17, 0), local(2026, 10, 10, 17, 0), True),
    # Friday evening before 清明 (4-6 April 2026): nothing counts until Tuesday.
    (local(2026, 4, 3, 18, 30), "immediate", local(2026, 4, 7, 9, 30), local(2026, 4, 8, 17, 0), True),
    # New Year's Eve 23:59 and New Year's Day 00:01, into a year the calendar does not know.
    (local(2026, 12, 31, 23, 59), "time_limited", local(2027, 1, 1, 17, 0), local(2027, 1, 5, 17, 0), False),
    (local(2027, 1, 1, 0, 1), "time_limited", local(2027, 1, 4, 17, 0), local(2027, 1, 6, 17, 0), False),
    # 29 February 2028 (a Tuesday of an unknown year: weekdays, flagged).
    (local(2028, 2, 29, 10, 0), "time_limited", local(2028, 3, 1, 17, 0), local(2028, 3, 3, 17, 0), False),
    (local(2028, 2, 29, 16, 30), "immediate", local(2028, 3, 1, 9, 0), local(2028, 3, 2, 17, 0), False),
])
def test_deadlines_at_chosen_instants(received: datetime, category: str, first: datetime, result: datetime,
                                      certain: bool) -> None:
    due = deadlines_for(category, received, CAL)
    assert (due.first_response_due, due.result_due, due.certain) == (first, result, certain)


# ----- workflow, reminders and figures with the clock frozen -------------------------------------

@SQLITE_ONLY
async def test_a_case_across_new_year_keeps_its_month_and_its_clock(services: Services) -> None:
    eve = local(2026, 12, 31, 23, 59)
    with time_machine.travel(eve, tick=False):
        code = (await services.ingestor.ingest(make_intake(source_ref="ny", received_at=eve))).case_code
    case_due = local(2027, 1, 1, 9, 30)  # immediate: the hour starts at 08:30 on a Friday assumed at work
    calendar = await services.calendar.get()
    with time_machine.travel(local(2027, 1, 1, 0, 1), tick=False):
        assert await sweep(services.store, calendar, POLICY) == 0
        await ops.transition(services.store, "x" * 0 + code, "start_verification", actor="t")
    with time_machine.travel(local(2027, 1, 1, 9, 1), tick=False):
        assert await sweep(services.store, calendar, POLICY) == 1, "warned 30 minutes before the hour ends"
    with time_machine.travel(local(2027, 1, 1, 9, 31), tick=False):
        assert await sweep(services.store, calendar, POLICY) == 1, "then overdue"
        await ops.transition(services.store, code, "verify_valid", actor="t", note="属实")
        await ops.transition(services.store, code, "rectify", actor="t")
        await ops.transition(services.store, code, "reply", actor="t", note="已整改")
    async with services.store.read() as session:
        case = (await session.execute(select(Case).where(Case.code == code))).scalar_one()
        kinds = sorted((await session.execute(select(CaseReminder.kind))).scalars())
    assert case.first_response_due == case_due and case.deadline_uncertain
    assert case.first_responded_at == local(2027, 1, 1, 9, 31) and kinds == ["first_response_overdue",
                                                                             "first_response_warning"]
    await rollup.refresh(services.store, "Asia/Shanghai")
    async with services.store.read() as session:
        names = await Names.load(session)
        december = total(await compute(session, Filters(Period.month_of(date(2026, 12, 1))), [], names=names))
        january = total(await compute(session, Filters(Period.month_of(date(2027, 1, 1))), [], names=names))
    assert (december["evaluations"], december["bad"], december["rectified_immediate"]) == (1, 1, 1)
    assert december["on_time_immediate"] == 0, "answered a minute after its hour"
    assert january["evaluations"] == 0, "counted in the month it was received, once"


@SQLITE_ONLY
async def test_public_page_and_screen_at_the_edges_of_every_month(services: Services) -> None:
    await services.ingestor.ingest(make_intake(source_ref="m", received_at=local(2026, 3, 31, 16, 0)))
    app = create_app(services=services, run_workers=False)
    async with anonymous_client(app) as client:
        for instant in MONTH_EDGES:
            with time_machine.travel(instant, tick=False):
                public = await client.get("/public")
                screen = await client.get("/screen/jintun")
            month = instant.date().replace(day=1)
            assert public.status_code == 200, instant
            assert f"<strong>{month.year}年{month.month}月</strong>" in public.text
            assert f'href="/public?month={add_months(month, -1):%Y-%m}"' in public.text
            assert screen.status_code == 200, instant
