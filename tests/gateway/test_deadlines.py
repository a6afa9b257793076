"""Deadline arithmetic across the 2026 National Day holiday and a year the calendar does not know."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from gateway.core.deadlines import DeadlinePolicy, WorkCalendar, coordinated_reminder, deadlines_for
from gateway.core.settings import parse_office_hours
from tests.helpers import local

CAL = WorkCalendar()


def test_national_day_2026_and_its_make_up_workdays() -> None:
    assert CAL.is_workday(date(2026, 9, 30))
    assert not any(CAL.is_workday(date(2026, 10, d)) for d in range(1, 8))
    assert CAL.is_workday(date(2026, 9, 20)), "Sunday 20 September is a make-up workday"
    assert CAL.is_workday(date(2026, 10, 10)), "Saturday 10 October is a make-up workday"
    assert not CAL.is_workday(date(2026, 10, 11))


def test_one_office_hour_before_the_holiday_runs_into_the_first_day_back() -> None:
    # 16:30 on 30 September: 30 minutes left that day, the other 30 after the holiday.
    due = CAL.add_office_time(local(2026, 9, 30, 16, 30), timedelta(hours=1))
    assert due.at == local(2026, 10, 8, 9, 0) and due.certain


def test_an_item_arriving_at_night_starts_its_hour_when_the_office_opens() -> None:
    assert CAL.add_office_time(local(2026, 11, 26, 22, 0), timedelta(hours=1)).at == local(2026, 11, 27, 9, 30)


def test_the_lunch_break_does_not_count() -> None:
    assert CAL.add_office_time(local(2026, 11, 27, 11, 30), timedelta(hours=1)).at == local(2026, 11, 27, 14, 0)


def test_a_friday_evening_item_is_due_monday_morning() -> None:
    assert CAL.add_office_time(local(2026, 11, 27, 18, 0), timedelta(hours=1)).at == local(2026, 11, 30, 9, 30)


def test_working_days_skip_the_holiday_and_count_the_make_up_saturday() -> None:
    received = local(2026, 9, 30, 10, 0)
    assert CAL.add_working_days(received, 1).at == local(2026, 10, 8, 17, 0)
    assert CAL.add_working_days(received, 2).at == local(2026, 10, 9, 17, 0)
    assert CAL.add_working_days(received, 3).at == local(2026, 10, 10, 17, 0)


def test_the_make_up_sunday_before_the_holiday_counts() -> None:
    # Received Saturday 19 September: Sunday 20th is a working day, so it is day 1.
    assert CAL.add_working_days(local(2026, 9, 19, 15, 0), 1).at == local(2026, 9, 20, 17, 0)


def test_time_limited_deadlines() -> None:
    due = deadlines_for("time_limited", local(2026, 9, 30, 10, 0), CAL)
    assert due.first_response_due == local(2026, 10, 8, 17, 0)
    assert due.result_due == local(2026, 10, 10, 17, 0)
    assert due.certain


def test_immediate_and_none_deadlines() -> None:
    immediate = deadlines_for("immediate", local(2026, 11, 27, 10, 0), CAL)
    assert immediate.first_response_due == local(2026, 11, 27, 11, 0)
    assert immediate.result_due == local(2026, 11, 30, 17, 0), "Friday's call back: rectified by Monday's close"
    none = deadlines_for("none", local(2026, 11, 27, 10, 0), CAL, reason="praise")
    assert none.first_response_due is None and none.result_due is None


def test_every_track_has_a_deadline() -> None:
    """Issue 16 point 5: 立整立改 result, 协调整改 default, 咨询 answer, 建议 acknowledgement, 差评 without track."""
    holiday_eve = local(2026, 9, 30, 16, 50)  # the eve of National Day: office closes at 17:00
    immediate = deadlines_for("immediate", holiday_eve, CAL)
    assert immediate.first_response_due == local(2026, 10, 8, 9, 20), "10 minutes left, 50 after the holiday"
    assert immediate.result_due == local(2026, 10, 9, 17, 0), "the next working day after the call back"
    coordinated = deadlines_for("coordinated", local(2026, 11, 27, 10, 0), CAL)
    assert coordinated.result_due == local(2026, 12, 11, 17, 0) and coordinated.provisional
    longer = deadlines_for("coordinated", local(2026, 11, 27, 10, 0), CAL,
                           policy=DeadlinePolicy(coordinated_default_working_days=20))
    assert longer.result_due == local(2026, 12, 25, 17, 0)
    inquiry = deadlines_for("none", local(2026, 11, 27, 10, 0), CAL, reason="inquiry")
    assert inquiry.first_response_due == local(2026, 11, 30, 17, 0) and inquiry.result_due is None
    suggestion = deadlines_for("none", local(2026, 11, 27, 10, 0), CAL, reason="suggestion")
    assert suggestion.first_response_due == local(2026, 12, 4, 17, 0)
    bad_question = deadlines_for("none", local(2026, 11, 27, 10, 0), CAL, bad=True, reason="inquiry")
    assert (bad_question.first_response_due, bad_question.result_due) == (
        local(2026, 11, 30, 17, 0), local(2026, 12, 2, 17, 0)), "a 差评 without a track: the 限时整改 clock"


def test_a_year_the_calendar_does_not_know_uses_weekdays_and_is_flagged() -> None:
    due = CAL.add_working_days(local(2026, 12, 30, 10, 0), 3)
    # 31 Dec (known) then 1 and 4 January 2027 assumed from weekdays.
    assert due.at == local(2027, 1, 4, 17, 0)
    assert due.certain is False
    assert CAL.day_kind(date(2027, 1, 1)).known is False
    within_known = CAL.add_working_days(local(2026, 12, 28, 10, 0), 2)
    assert within_known.certain is True


def test_an_override_makes_an_unknown_day_known() -> None:
    # An unknown weekend is as doubtful as an unknown weekday (it could be a make-up workday).
    partial = WorkCalendar(overrides={date(2027, 1, 1): False, date(2027, 1, 4): True})
    assert partial.add_working_days(local(2026, 12, 31, 10, 0), 1).certain is False
    calendar = WorkCalendar(overrides={date(2027, 1, d): d == 4 for d in (1, 2, 3, 4)})
    due = calendar.add_working_days(local(2026, 12, 31, 10, 0), 1)
    assert due.at == local(2027, 1, 4, 17, 0) and due.certain
    assert not calendar.is_workday(date(2027, 1, 1))


def test_an_override_beats_the_library() -> None:
    calendar = WorkCalendar(overrides={date(2026, 11, 30): False})
    assert calendar.add_working_days(local(2026, 11, 27, 10, 0), 1).at == local(2026, 12, 1, 17, 0)


def test_overrides_are_fixed_once_the_calendar_remembers_days() -> None:
    """Days are remembered after the first look-up, so the overrides must not change afterwards
    (the gateway builds a new calendar when an administrator edits them)."""
    given = {date(2026, 11, 30): False}
    calendar = WorkCalendar(overrides=given)
    assert not calendar.is_workday(date(2026, 11, 30))
    given[date(2026, 12, 1)] = False  # the caller's dict is copied, not shared (no day looked up yet)
    with pytest.raises(TypeError):
        calendar.overrides[date(2026, 12, 2)] = False  # type: ignore[index]
    assert calendar.is_workday(date(2026, 12, 1)) and calendar.is_workday(date(2026, 12, 2))
    assert dict(calendar.overrides) == {date(2026, 11, 30): False}


def test_coordinated_reminder_comes_working_days_before_the_due_date() -> None:
    reminder = coordinated_reminder(local(2026, 10, 9, 17, 0), CAL, 1)
    assert reminder.at == local(2026, 10, 8, 8, 30)
    reminder = coordinated_reminder(local(2026, 10, 8, 17, 0), CAL, 1)
    assert reminder.at == local(2026, 9, 30, 8, 30), "the holiday is skipped backwards too"


def test_office_hours_are_configurable_and_validated() -> None:
    assert parse_office_hours("09:00-12:00, 14:00-18:00") == ((time(9), time(12)), (time(14), time(18)))
    for bad, message in (("9-12", "HH:MM-HH:MM"), ("12:00-09:00", "ends before"),
                         ("09:00-12:00,11:00-13:00", "overlaps"), ("", "empty")):
        with pytest.raises(ValueError, match=message):
            parse_office_hours(bad)
    summer = WorkCalendar(office_hours=parse_office_hours("09:00-12:00,14:00-18:00"))
    assert summer.add_office_time(local(2026, 11, 27, 11, 30), timedelta(hours=1)).at == local(2026, 11, 27, 14, 30)


def test_naive_start_is_refused() -> None:
    from datetime import datetime
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.add_office_time(datetime(2026, 11, 27, 10), timedelta(hours=1))
