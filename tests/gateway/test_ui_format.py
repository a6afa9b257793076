"""Countdowns and times as staff read them."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from gateway.core.cases import TRIAGE_REASONS
from gateway.core.labels import RATING_REASON_LABELS, TRIAGE_REASON_LABELS
from gateway.ui.format import (
    case_countdown,
    countdown,
    local_date,
    local_time,
    rating_reason_label,
    triage_reason_label,
)
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


def test_a_triage_reason_and_a_citizens_reason_of_the_same_code_keep_their_own_names() -> None:
    """``efficiency`` is the triage's 办事效率 and the citizen's 办理时间长: two catalogues, and a
    page showing a case's triage reason never borrows the citizen's word (the case page did)."""
    shared = set(TRIAGE_REASON_LABELS) & set(RATING_REASON_LABELS)
    assert shared == {"attitude", "efficiency", "environment"}
    for code in shared:
        assert triage_reason_label(code) == TRIAGE_REASON_LABELS[code]
        assert rating_reason_label(code) == RATING_REASON_LABELS[code]
    assert (triage_reason_label("efficiency"), rating_reason_label("efficiency")) == ("办事效率", "办理时间长")
    every_triage_reason = {code for reasons in TRIAGE_REASONS.values() for code in reasons}
    assert every_triage_reason == set(TRIAGE_REASON_LABELS), "one catalogue names every triage reason"
