"""What the public page, the hall screen and the reports page show, assembled from the figures.

Only aggregate numbers and the anonymised latest-rectified list leave this module for the public
pages: no query here reads ``contacts`` or a citizen's own text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from markupsafe import Markup

from channels.paper.codes import poster_qr
from gateway.core.months import add_months, first_of_month, first_of_year
from gateway.core.services import Services
from gateway.results import charts, rollup
from gateway.results.figures import (
    COUNTER_LABELS,
    RATES_BY_NAME,
    Counts,
    Dim,
    FigureRow,
    Filters,
    Names,
    Period,
    attach_in_progress,
    compute,
    in_progress,
    percent,
    total,
)
from gateway.results.lists import latest_rectified

PUBLIC_MAX_AGE = timedelta(seconds=60)


@dataclass(frozen=True)
class Headline:
    label: str
    text: str
    detail: str
    note: str = ""  # a short figure beside the rate (整改中 N 件), shown on the hall screen too


def headlines(counts: Counts) -> list[Headline]:
    """The figures a 通报 leads with, each with the counts behind it."""
    def rate(name: str) -> Headline:
        r = RATES_BY_NAME[name]
        num = sum(counts[n] for n in r.numerator)
        den = counts.denominator(name)
        if name == "rectified_rate" and counts.in_progress:
            note = f"整改中 {counts.in_progress} 件"
            return Headline(r.label, percent(counts.rate(name)), f"{num} / {den} · {note}", note)
        return Headline(r.label, percent(counts.rate(name)), f"{num} / {den}")

    return [
        Headline("评价总数", f"{counts['evaluations']:,}", f"有等级 {counts['rated']:,}"),
        rate("good_rate"),
        Headline("差评（采纳）", f"{counts['bad']:,}",
                 f"不属实 {counts['bad_not_valid']} · 恶意 {counts['bad_malicious']}"
                 # unrated complaints are handled like 差评 and counted in every 整改率 and 回访率 beside
                 # this card: say so, or "差评 0" sits next to "整改率 100% (1/1)" unexplained
                 + (f" · 另有未评级投诉 {counts['complaints']}（按差评办理）" if counts["complaints"] else "")),
        rate("rectified_rate"),
        rate("on_time_rate"),
        rate("reply_rate"),
        rate("return_visit_rate"),
        rate("satisfaction_rate"),
    ]


def today(tz: str) -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(tz)).date()


def hall_bars(rows: list[FigureRow]) -> list[charts.Bar]:
    return [charts.Bar(r.label(Dim.HALL), r.counts.rate("good_rate"), percent(r.counts.rate("good_rate")))
            for r in rows]


def trend_points(rows: list[FigureRow], rate: str = "good_rate") -> list[charts.Bar]:
    """Monthly points for a line chart, labelled ``11月`` (the chart's title names the years)."""
    return [charts.Bar(f"{int(r.code(Dim.MONTH).split('-')[1])}月", r.counts.rate(rate),
                       percent(r.counts.rate(rate), 0)) for r in rows]


def count_bars(rows: list[FigureRow], dim: Dim) -> list[charts.Bar]:
    return [charts.Bar(r.label(dim), r.counts["evaluations"], f"{r.counts['evaluations']:,}") for r in rows]


async def public_view(services: Services, *, month: date | None = None) -> dict[str, Any]:
    """The county's figures of a month by town, the last twelve months, and the latest rectified."""
    tz = services.settings.timezone
    await rollup.refresh(services.store, tz, max_age=PUBLIC_MAX_AGE)
    current = today(tz)
    month = first_of_month(month or current)
    period = Period.month_of(month, tz)
    trend_period = Period(add_months(month, -11), period.end, tz)
    year_period = Period(first_of_year(month), period.end, tz)
    async with services.store.read() as session:
        names = await Names.load(session)
        by_hall = await compute(session, Filters(period), [Dim.HALL], names=names)
        trend = await compute(session, Filters(trend_period), [Dim.MONTH], names=names)
        by_channel = await compute(session, Filters(period), [Dim.CHANNEL], names=names)
        year_rows = await compute(session, Filters(year_period), [], names=names)
        latest = await latest_rectified(session, names, limit=10)
        started = Period(min(trend_period.start, year_period.start), period.end, tz)
        pending = await in_progress(session, Filters(started), names, datetime.now(UTC))
    counts = attach_in_progress(pending, period, by_hall)
    attach_in_progress(pending, trend_period, trend)
    year_counts = attach_in_progress(pending, year_period, year_rows)
    all_halls = [(code, name) for code, name in sorted(names.halls.values())]
    return {
        "period": period, "month": month, "previous": add_months(month, -1),
        "is_current": month >= first_of_month(current), "following": add_months(month, 1),
        "headlines": headlines(counts), "year_headlines": headlines(year_counts), "year": month.year,
        "by_hall": by_hall, "by_channel": by_channel, "trend": trend,
        "hall_chart": charts.bar_chart(f"{month:%Y年%m月}各镇（街道）好评率", hall_bars(by_hall), maximum=1.0),
        "trend_chart": charts.line_chart(
            f"近十二个月好评率（{trend_period.start:%Y年%m月}—{trend_period.end:%Y年%m月}）", trend_points(trend),
            maximum=1.0),
        "count_chart": charts.bar_chart(f"{month:%Y年%m月}各渠道评价数", count_bars(by_channel, Dim.CHANNEL)),
        "latest": latest, "halls": all_halls, "percent": percent, "Dim": Dim, "tz": ZoneInfo(tz),
    }


async def screen_view(services: Services, hall_code: str) -> dict[str, Any] | None:
    """One hall's screen: today, this month, the last 30 days, and its latest rectified cases."""
    tz = services.settings.timezone
    await rollup.refresh(services.store, tz, max_age=PUBLIC_MAX_AGE)
    current = today(tz)
    async with services.store.read() as session:
        names = await Names.load(session)
        hall = next(((hid, name) for hid, (code, name) in names.halls.items() if code == hall_code), None)
        if hall is None:
            return None
        only = (hall_code,)
        month_rows = await compute(session, Filters(Period.month_of(current, tz), halls=only), [], names=names)
        today_rows = await compute(session, Filters(Period(current, current, tz), halls=only), [], names=names)
        days = await compute(session, Filters(Period(current - timedelta(days=29), current, tz), halls=only),
                             [Dim.DAY], names=names)
        windows = await compute(session, Filters(Period.month_of(current, tz), halls=only), [Dim.WINDOW],
                                names=names)
        latest = await latest_rectified(session, names, hall_code=hall_code, limit=6)
        month = Period.month_of(current, tz)
        pending = await in_progress(session, Filters(month, halls=only), names, datetime.now(UTC))
    month_counts, today_counts = attach_in_progress(pending, month, month_rows), total(today_rows)
    form_url = scan_url(services, hall_code)
    return {
        "form_url": form_url, "qr": qr_svg(form_url) if form_url else None,
        "hall_code": hall_code, "hall_name": hall[1], "today": current,
        "updated": datetime.now(UTC).astimezone(ZoneInfo(tz)),
        "month_headlines": headlines(month_counts), "today_counts": today_counts,
        "today_good_rate": percent(today_counts.rate("good_rate")),
        "has_windows": bool(windows),
        "day_columns": day_columns(current, {r.code(Dim.DAY): r.counts["evaluations"] for r in days}),
        "window_chart": charts.bar_chart("本月各窗口好评率", [
            charts.Bar(r.label(Dim.WINDOW).split("·")[-1], r.counts.rate("good_rate"),
                       percent(r.counts.rate("good_rate"))) for r in windows], maximum=1.0,
            css_class="chart screen-windows", label_width=170, bar_height=40, gap=16),
        "latest": latest, "tz": ZoneInfo(tz),
    }


def scan_url(services: Services, hall_code: str) -> str | None:
    """The evaluation form of the hall, for the screen's QR code; ``None`` without HCP_PUBLIC_URL (a
    local address in a code citizens scan with their own phones would lead nowhere)."""
    settings = services.settings
    if not settings.public_url_configured:
        return None
    return f"{settings.public_url.rstrip('/')}/f?{urlencode({'hall': hall_code})}"


def qr_svg(url: str) -> Markup:
    """The QR code of ``url`` as inline SVG (the window posters' code, ``channels.paper.codes``)."""
    svg = poster_qr(url).svg_inline(scale=8, border=2, dark="#0b1f3a", light="#ffffff", svgclass="screen-qr",
                                    omitsize=True)
    return Markup(svg.replace("<svg ", '<svg role="img" aria-label="扫码评价二维码" ', 1))


LABEL_STEP = 7  # days between two labels of the screen's 30-day chart


def day_columns(last: date, counts: dict[str, int], days: int = 30) -> dict[str, Any]:
    """The hall screen's 30 days as HTML columns (CSS pixels, so labels stay ≥ 20 px on any screen).

    Every day is there, a day without evaluations as 0 (the chart used to skip it); heights are
    classes ``h0``…``h20`` (5 % steps) because the page's CSP allows no inline style.  A day is
    labelled every seven, counted back from the last: the last day always has its label, and every
    label is a week from the next.  (Every fifth from the first plus the last put "11/23" and "11/27"
    on top of each other at 1366 px: the last label, right-aligned, was only four days on.)
    """
    series = [(day, counts.get(day.isoformat(), 0)) for day in
              (last - timedelta(days=offset) for offset in range(days - 1, -1, -1))]
    top = max((n for _, n in series), default=0) or 1
    columns = [{"day": day, "value": n, "level": round(n / top * 20),
                "label": f"{day.month}/{day.day}" if (days - 1 - i) % LABEL_STEP == 0 else "", "edge": "",
                "title": f"{day.year}年{day.month}月{day.day}日 {n} 件"} for i, (day, n) in enumerate(series)]
    labelled = [c for c in columns if c["label"]]
    # A label is wider than its column: the outermost two are aligned inwards, not cut off at the edge.
    if labelled:
        labelled[0]["edge"], labelled[-1]["edge"] = "start", "end"
    busiest = max(series, key=lambda item: item[1])
    first = series[0][0]
    return {"columns": columns, "total": sum(n for _, n in series), "top": top,
            "range": f"{first.year}年{first.month}月{first.day}日—"
                     + (f"{last.month}月{last.day}日" if last.year == first.year else
                        f"{last.year}年{last.month}月{last.day}日"),
            "busiest": f"{busiest[0].year}年{busiest[0].month}月{busiest[0].day}日" if busiest[1] else ""}


def figure_columns() -> list[tuple[str, str]]:
    """(name, label) of every counter and rate, for the report tables."""
    return [*COUNTER_LABELS.items(), *[(r.name, r.label) for r in RATES_BY_NAME.values()]]


def no_chart() -> Markup:
    return Markup("")
