"""The hall screen's 30-day chart: every day present (no evaluations is 0), labels in CSS pixels."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from gateway.results.views import day_columns


def test_days_without_evaluations_are_zero_and_the_month_turns() -> None:
    chart = day_columns(date(2026, 12, 7), {"2026-12-07": 4, "2026-11-20": 8, "2026-11-08": 2})
    days = [c["day"] for c in chart["columns"]]
    assert len(days) == 30 and days[0] == date(2026, 11, 8) and days[-1] == date(2026, 12, 7)
    values = {c["day"]: c["value"] for c in chart["columns"]}
    assert values[date(2026, 11, 9)] == 0 and values[date(2026, 12, 1)] == 0 and values[date(2026, 11, 20)] == 8
    assert [c["level"] for c in chart["columns"] if c["value"]] == [5, 20, 10]
    assert chart["total"] == 14 and chart["busiest"] == "2026年11月20日", "dates on the screen carry the year"
    assert chart["range"] == "2026年11月8日—12月7日"
    # A label a week, counted back from the last day: evenly spaced to the end (no crowded last step).
    assert [c["label"] for c in chart["columns"] if c["label"]] == ["11/9", "11/16", "11/23", "11/30", "12/7"]
    assert [(c["label"], c["edge"]) for c in chart["columns"] if c["edge"]] == [("11/9", "start"), ("12/7", "end")], \
        "the outermost labels are aligned inwards"
    assert day_columns(date(2026, 12, 7), {})["busiest"] == ""


def test_screen_text_is_at_least_20_px() -> None:
    css = (Path(__file__).parents[2] / "gateway/results/static/screen.css").read_text(encoding="utf-8")
    sizes = [int(n) for n in re.findall(r"ol\.day-columns \.d \{ font-size: (\d+)px", css)]
    assert sizes and min(sizes) >= 20
