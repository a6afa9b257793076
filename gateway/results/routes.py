"""Web routes of the results feature: the public page, the hall screen and the supervisors' reports.

``/public`` and ``/screen/{hall}`` are open to anyone and show aggregate figures and anonymised
public replies only.  ``/reports`` and its downloads are for supervisors, limited to their towns.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from gateway.auth.access import current_user, public, staff
from gateway.auth.audit import audit
from gateway.core.labels import IN_PROGRESS_LABEL, SOURCE_LABELS
from gateway.results import rollup, views
from gateway.results.assessment import (
    NO_DATA_CELL_LABELS,
    NO_DATA_LABELS,
    AssessmentRules,
    AssessmentRulesError,
    read_rules,
)
from gateway.results.export import CSV_NAME, iter_cases_csv
from gateway.results.figures import (
    CHANNEL_LABELS,
    DIM_LABELS,
    Dim,
    Filters,
    Names,
    Period,
    attach_in_progress,
    compute,
    in_progress,
    percent,
)
from gateway.results.insights import public_insights, report_insights
from gateway.results.lists import CursorError, overdue, return_visit_exceptions
from gateway.results.reasons import REASON_LABELS
from gateway.results.report import XLSX_MEDIA_TYPE, build_workbook
from gateway.ui.big_text import big_text, remember_big_text

MONTH_FORMAT = "%Y-%m"
PUBLIC_YEARS = (2000, 2100)  # the trend reaches eleven months back; far years are refused, not a 500


def _month(value: str | None) -> date | None:
    if not value:
        return None
    try:
        month = datetime.strptime(value, MONTH_FORMAT).date()
    except ValueError:
        raise HTTPException(400, "月份格式应为 2026-11") from None
    if not PUBLIC_YEARS[0] <= month.year <= PUBLIC_YEARS[1]:
        raise HTTPException(400, f"月份应在 {PUBLIC_YEARS[0]} 年至 {PUBLIC_YEARS[1]} 年之间")
    return month


@public
async def public_page(request: Request) -> Response:
    services = request.app.state.services
    month = _month(request.query_params.get("month"))
    future = None
    if month is not None and month > views.today(services.settings.timezone):
        # A month that has not begun has no figures; say so rather than show an empty month.
        future, month = f"{month.year}年{month.month}月尚未到来，还没有评价数据；下面是本月的情况。", None
    context = await views.public_view(services, month=month)
    context["future_notice"] = future
    async with services.store.read() as session:
        context.update(await public_insights(session, Filters(context["period"]), await Names.load(session)))
    big, asked = big_text(request)
    response = request.app.state.templates.TemplateResponse(request, "public.html", {**context, "big": big})
    return remember_big_text(request, response, asked)


@public
async def screen_page(request: Request) -> Response:
    services = request.app.state.services
    hall = request.path_params["hall"]
    context = await views.screen_view(services, hall)
    if context is None:
        raise HTTPException(404, "没有这个服务大厅")
    big, asked = big_text(request)
    response = request.app.state.templates.TemplateResponse(request, "screen.html", {**context, "big": big})
    return remember_big_text(request, response, asked)


@public
async def screen_index(request: Request) -> Response:
    """``/screen`` without a hall: the public page, whose towns' table links every hall's screen
    (a clerk setting up a display typed the short address and got "not found")."""
    return RedirectResponse("/public#h-towns", status_code=303)


# ----- supervisors' reports -----------------------------------------------------------------------

def _day(value: str | None, default: date, field: str) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{field}日期格式应为 2026-11-01") from None


def report_filters(request: Request) -> Filters:
    """The period and filters of a reports request, limited to the towns the person may see."""
    services = request.app.state.services
    tz = services.settings.timezone
    params = request.query_params
    current = views.today(tz)
    start = _day(params.get("from"), current.replace(day=1), "开始")
    end = _day(params.get("to"), current, "结束")
    if end < start:
        raise HTTPException(400, "结束日期早于开始日期")
    if (end - start).days > 3660:
        raise HTTPException(400, "统计期间不能超过十年")
    user = current_user(request)
    assert user is not None
    allowed = user.town_filter()
    hall = params.get("hall") or None
    if hall and allowed is not None and hall not in allowed:
        raise HTTPException(403, "无权查看其他乡镇的统计")
    halls = (hall,) if hall else (tuple(sorted(allowed)) if allowed is not None else None)
    channel = params.get("channel") or None
    if channel and channel not in CHANNEL_LABELS:
        raise HTTPException(400, "未知的评价渠道")
    source = params.get("source") or None
    if source and source not in SOURCE_LABELS:
        raise HTTPException(400, "未知的评价来源")
    return Filters(Period(start, end, tz), halls=halls, channels=(channel,) if channel else None,
                   sources=(source,) if source else None)


def _query(filters: Filters, request: Request) -> str:
    parts = [f"from={filters.period.start}", f"to={filters.period.end}"]
    if request.query_params.get("hall"):
        parts.append(f"hall={request.query_params['hall']}")
    if filters.channels:
        parts.append(f"channel={filters.channels[0]}")
    if filters.sources:
        parts.append(f"source={filters.sources[0]}")
    return "&".join(parts)


UNIT_CHOICES = {"hall": Dim.HALL, "window": Dim.WINDOW, "staff": Dim.STAFF}
REASON_CHOICES = {"hall": Dim.HALL, "window": Dim.WINDOW, "service_item": Dim.SERVICE_ITEM}


def _choice(request: Request, name: str, choices: dict[str, Dim]) -> tuple[str, Dim]:
    value = request.query_params.get(name) or "hall"
    if value not in choices:
        raise HTTPException(400, "统计维度只能是" + "、".join(DIM_LABELS[d] for d in choices.values()))
    return value, choices[value]


def assessment_rules(request: Request) -> tuple[AssessmentRules | None, str | None]:
    """The 考核 rules in force, or the reason they cannot be used (shown on the page, not a 500)."""
    try:
        return read_rules(request.app.state.services.settings.assessment_rules), None
    except AssessmentRulesError as exc:
        return None, str(exc)


@staff("supervisor")
async def reports_page(request: Request) -> Response:
    services = request.app.state.services
    filters = report_filters(request)
    unit_name, unit = _choice(request, "unit", UNIT_CHOICES)
    reasons_name, reasons_by = _choice(request, "reasons_by", REASON_CHOICES)
    rules, rules_error = assessment_rules(request)
    await rollup.refresh(services.store, services.settings.timezone)
    params = request.query_params
    async with services.store.read() as session:
        names = await Names.load(session)
        by_hall = await compute(session, filters, [Dim.HALL], names=names)
        by_channel = await compute(session, filters, [Dim.CHANNEL], names=names)
        try:
            late = await overdue(session, names, halls=filters.halls, cursor=params.get("overdue_after") or None)
            unvisited = await return_visit_exceptions(session, names, filters,
                                                      cursor=params.get("visit_after") or None)
        except CursorError:
            raise HTTPException(400, "翻页参数无效（链接可能不完整），请从第一页重新打开") from None
        now = datetime.now(UTC)
        extra = await report_insights(session, filters, names, rules, unit=unit, reasons_by=reasons_by, now=now)
        pending = await in_progress(session, filters, names, now)
    user = current_user(request)
    assert user is not None
    allowed = user.town_filter()
    halls = [(code, name) for code, name in names.town_halls() if allowed is None or code in allowed]
    counts = attach_in_progress(pending, filters.period, by_hall)
    for rows in (by_channel, extra["by_source"]):  # every 整改率 on the page by the one rule
        attach_in_progress(pending, filters.period, rows)
    ranking = sorted(by_hall, key=lambda r: (-(r.counts.rate("good_rate") or -1), r.code(Dim.HALL)))
    return request.app.state.templates.TemplateResponse(request, "reports.html", {
        "filters": filters, "query": _query(filters, request), "headlines": views.headlines(counts),
        "ranking": ranking, "by_channel": by_channel, "overdue": late, "unvisited": unvisited, "halls": halls,
        "channels": CHANNEL_LABELS, "hall": params.get("hall") or "", "channel": params.get("channel") or "",
        "percent": percent, "Dim": Dim, "counts": counts, "tz": views.ZoneInfo(services.settings.timezone),
        "hall_chart": views.charts.bar_chart("各镇（街道）好评率", views.hall_bars(ranking), maximum=1.0),
        "params": dict(params), **extra, "rules": rules, "rules_error": rules_error, "unit": unit_name,
        "no_data_rule": NO_DATA_LABELS[rules.no_data.policy] if rules else "",
        "no_data_cell": NO_DATA_CELL_LABELS[rules.no_data.policy] if rules else "",
        "unit_dim": unit, "units": {k: DIM_LABELS[v] for k, v in UNIT_CHOICES.items()},
        "reasons_by": reasons_name, "reasons_dim": reasons_by,
        "reason_groupings": {k: DIM_LABELS[v] for k, v in REASON_CHOICES.items()},
        "reason_labels": REASON_LABELS,
        "in_progress_label": IN_PROGRESS_LABEL, "sources": SOURCE_LABELS, "source": params.get("source") or "",
    })


@staff("supervisor")
async def reports_xlsx(request: Request) -> Response:
    services = request.app.state.services
    filters = report_filters(request)
    rules, rules_error = assessment_rules(request)
    workbook, summary = await build_workbook(services, filters, rules, rules_error=rules_error)
    buffer = io.BytesIO()
    workbook.save(buffer)
    await audit(services.store, request, current_user(request), "report.xlsx", target_type="report",
                detail={"from": str(filters.period.start), "to": str(filters.period.end),
                        "halls": list(filters.halls or []), "evaluations": summary["evaluations"]})
    name = f"haochaping-{filters.period.start:%Y%m%d}-{filters.period.end:%Y%m%d}.xlsx"
    return Response(buffer.getvalue(), media_type=XLSX_MEDIA_TYPE,
                    headers={"content-disposition": f'attachment; filename="{name}"'})


@staff("supervisor")
async def reports_csv(request: Request) -> Response:
    services = request.app.state.services
    filters = report_filters(request)
    await audit(services.store, request, current_user(request), "report.csv", target_type="report",
                detail={"from": str(filters.period.start), "to": str(filters.period.end),
                        "halls": list(filters.halls or [])})

    async def body() -> Any:
        yield "\ufeff".encode()
        async for chunk in iter_cases_csv(services, filters):
            yield chunk.encode("utf-8")

    name = CSV_NAME.format(start=filters.period.start, end=filters.period.end)
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8",
                             headers={"content-disposition": f'attachment; filename="{name}"'})


routes = [
    Route("/public", public_page, methods=["GET"], name="results_public"),
    Route("/screen", screen_index, methods=["GET"], name="results_screen_index"),
    Route("/screen/{hall}", screen_page, methods=["GET"], name="results_screen"),
    Route("/reports", reports_page, methods=["GET"], name="results_reports"),
    Route("/reports/export.xlsx", reports_xlsx, methods=["GET"], name="results_xlsx"),
    Route("/reports/export.csv", reports_csv, methods=["GET"], name="results_csv"),
]
