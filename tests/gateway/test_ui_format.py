"""Countdowns and times as staff read them."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from gateway.ui.format import case_countdown, countdown, local_date, local_time
from tests.helpers import local

NOW = local(2026, 11, 30, 10, 0)


def test_countdowns_say_the_time_left_or_overdue_in_words() -> None:
    assert countdown(NOW + timedelta(minutes=45), now=NOW).text == "剩余 45 分钟"
    assert countdown(NOW + timedelta(minutes=45), now=NOW).level == "warn"
    assert countdown(NOW + timedelta(hours=5, minutes=10), now=NOW).text == "剩余 5 小时 10 分"
    assert countdown(NOW + timedelta(days=3, hours=2), now=NOW).level == "ok"
    assert countdown(NOW - timedelta(hours=2), now=NOW).text == "已超时 2 小时"
    assert countdown(NOW - timedelta(hours=2), now=NOW).level == "late"
    assert countdown(None).text == "无期限"


def test_a_paused_clock_and_a_met_deadline_are_shown_as_such() -> None:
    paused = countdown(NOW + timedelta(hours=3), now=NOW + timedelta(days=5), paused_at=NOW)
    assert (paused.text, paused.level) == ("已暂停计时（剩余 3 小时）", "paused")
    done = countdown(NOW, done_at=NOW + timedelta(minutes=30))
    assert (done.text, done.level) == ("已完成（超时 30 分钟）", "late")


def test_the_case_countdown_follows_the_first_response_then_the_result() -> None:
    case = SimpleNamespace(status="rectifying", first_response_due=NOW, first_responded_at=None,
                           result_due=NOW + timedelta(days=2), result_at=None, paused_at=None)
    assert case_countdown(case, now=NOW - timedelta(minutes=10)).text == "剩余 10 分钟"
    case.first_responded_at = NOW
    assert case_countdown(case, now=NOW).text == "剩余 2 天"


def test_times_are_shown_in_shanghai() -> None:
    utc_noon = local(2026, 11, 28, 20, 5).astimezone(tz=None)
    assert local_time(utc_noon) == "2026-11-28 20:05" and local_date(utc_noon) == "2026年11月28日"
