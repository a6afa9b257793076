"""A screen reader announces a ``role="img"`` chart by its name only: the name must carry the numbers."""

from __future__ import annotations

import re

from gateway.results.charts import Bar, bar_chart, line_chart


def test_every_number_of_a_chart_is_in_its_accessible_name() -> None:
    bars = [Bar("金屯镇", 0.923, "92.3%"), Bar("马村镇", None, "—"), Bar("老僧堂镇", 0.5, "50%")]
    for title, chart in (("各镇好评率", bar_chart("各镇好评率", bars)), ("趋势", line_chart("趋势", bars))):
        name = re.search(r'aria-label="([^"]+)"', str(chart)).group(1)  # type: ignore[union-attr]
        assert name == f"{title}：金屯镇 92.3%；马村镇 —；老僧堂镇 50%"
        assert f"<title>{title}</title>" in str(chart)
    assert 'aria-label="空：暂无数据"' in str(bar_chart("空", []))
