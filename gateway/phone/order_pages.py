"""The hotline team's 12345 page: upload the platform's work-order export, see the orders with both
deadlines (the platform's 办理时限 and the county's own), download the answers (办理结果) for the
platform.  The same work as ``hcp phone import FILE --format 12345`` and ``hcp phone export-12345``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from channels.phone.workorders import parse_orders, results_csv, results_xlsx
from gateway.auth.access import current_user, staff
from gateway.auth.audit import add_audit, client_ip
from gateway.core.db.models import Case
from gateway.core.db.models_phone import HotlineOrder
from gateway.core.labels import STATUS_LABELS, label
from gateway.phone.common import countdown
from gateway.phone.options import PhoneOptions
from gateway.phone.workorders import import_orders, order_results

ROLES = ("operator", "supervisor")
MAX_UPLOAD = 20 * 1048576
FINISHED = ("replied", "return_visited", "closed", "not_valid", "malicious")


async def _page(request: Request, *, report: dict | None = None, status: int = 200) -> Response:
    services = request.app.state.services
    tz = ZoneInfo(services.settings.timezone)
    now = datetime.now(UTC)
    async with services.store.read() as session:
        rows = (await session.execute(
            select(HotlineOrder, Case).join(Case, Case.id == HotlineOrder.case_id)
            .order_by(HotlineOrder.called_at.desc()).limit(200))).all()
    orders = []
    for order, case in rows:
        # A countdown only while the case is open: an answered order is not "已超时".
        running = case.status not in FINISHED
        county_due = (case.first_response_due if case.first_responded_at is None else None) or case.result_due
        orders.append({
            "order_no": order.order_no, "code": case.code, "called_at": order.called_at.astimezone(tz),
            "town": order.town or "", "unit": order.unit or "", "status": label("status", case.status),
            "platform_due": order.platform_due.astimezone(tz) if order.platform_due else None,
            "platform_left": countdown(order.platform_due, now) if order.platform_due and running else None,
            "county_due": county_due.astimezone(tz) if county_due else None,
            "county_left": countdown(county_due, now) if county_due and running else None,
            "exported": order.exported_at is not None})
    return request.app.state.templates.TemplateResponse(request, "hotline_12345.html", {
        "orders": orders, "report": report, "statuses": STATUS_LABELS}, status_code=status)


@staff(*ROLES)
async def orders_page(request: Request) -> Response:
    return await _page(request)


@staff(*ROLES)
async def upload_orders(request: Request) -> Response:
    services = request.app.state.services
    if int(request.headers.get("content-length") or 0) > MAX_UPLOAD:
        raise HTTPException(413, "文件过大（不能超过 20 MB），请分批导出")
    form = await request.form()
    item = form.get("file")
    if not isinstance(item, UploadFile) or not item.filename:
        raise HTTPException(400, "请选择 12345 平台导出的工单文件（Excel 或 CSV）")
    name = item.filename.replace("\\", "/").rsplit("/", 1)[-1][:200]
    data = await item.read()
    try:
        parsed = parse_orders(data, tz=services.settings.timezone, area_code=PhoneOptions().area_code)
    except ValueError as exc:
        return await _page(request, report={"file": name, "error": f"无法读取该文件：{exc}"}, status=422)
    counts = await import_orders(services, parsed, source_file=name)
    user = current_user(request)
    async with services.store.write() as session:
        add_audit(session, user, "hotline12345:import", ip=client_ip(request), target_type="file", target_id=name,
                  detail=counts.as_dict())
    kinds = {"error": "有误", "duplicate": "重复", "skipped": "跳过"}
    return await _page(request, report={
        "file": name, **counts.as_dict(),
        "problems": [{"row": p.row, "kind": kinds[p.kind], "message": p.message} for p in counts.problems]},
        status=200 if parsed.orders or not counts.problems else 422)


@staff(*ROLES)
async def download_results(request: Request) -> Response:
    services = request.app.state.services
    fmt = request.path_params["fmt"]
    if fmt not in ("csv", "xlsx"):
        raise HTTPException(404, "只提供 CSV 或 Excel 格式")
    results = await order_results(services, answered_only=request.query_params.get("answered") == "1")
    tz = services.settings.timezone
    stamp = datetime.now(UTC).astimezone(ZoneInfo(tz)).strftime("%Y%m%d-%H%M")
    user = current_user(request)
    async with services.store.write() as session:
        add_audit(session, user, "hotline12345:export", ip=client_ip(request), target_type="file",
                  target_id=f"12345-results-{stamp}.{fmt}", detail={"orders": len(results)})
    if fmt == "xlsx":
        return Response(results_xlsx(results, tz=tz), headers={
            "Content-Disposition": f'attachment; filename="12345-results-{stamp}.xlsx"'},
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return Response(results_csv(results, tz=tz), media_type="text/csv; charset=gbk",
                    headers={"Content-Disposition": f'attachment; filename="12345-results-{stamp}.csv"'})


routes = [
    Route("/hotline/12345", orders_page, methods=["GET"], name="hotline_12345"),
    Route("/hotline/12345", upload_orders, methods=["POST"], name="hotline_12345_upload"),
    Route("/hotline/12345/results.{fmt:str}", download_results, methods=["GET"], name="hotline_12345_results"),
]
