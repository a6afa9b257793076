"""Roster pages: a hall's shifts per day (add, delete, CSV import), and a staff member's own
evaluations.  Handlers edit the rosters of their towns only; county roles edit any."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.auth.access import current_user, require_town, staff
from gateway.auth.audit import audit
from gateway.auth.roles import ROLES
from gateway.core.db.models import Case, Hall
from gateway.core.db.models_rosters import StaffMember
from gateway.core.labels import ATTRIBUTION_LABELS, CATEGORY_LABELS, CHANNEL_LABELS, STATUS_LABELS
from gateway.core.registry import list_halls
from gateway.core.rosters import RosterError, add_shift, delete_shift, import_csv, shifts_between
from gateway.ui.notices import notice, notice_url

EDITORS = ("admin", "supervisor", "handler")
MAX_CSV_BYTES = 1024 * 1024


def _day(text: str | None, tz: ZoneInfo) -> date:
    try:
        return date.fromisoformat(text) if text else datetime.now(tz).date()
    except ValueError:
        raise HTTPException(400, "日期格式应为 2026-11-30") from None


async def _page(request: Request, *, error: str | None = None, status: int = 200, report: object = None) -> Response:
    user = current_user(request)
    assert user is not None
    tz = ZoneInfo(request.app.state.settings.timezone)
    halls = [h for h in await list_halls(request.app.state.services.store)
             if user.can_access_town(h.code) or user.has("admin")]
    if not halls:
        raise HTTPException(403, "您没有可管理排班的乡镇")
    hall = request.query_params.get("hall") or halls[0].code
    if hall not in {h.code for h in halls}:
        raise HTTPException(403, "无权查看其他乡镇的排班")
    day = _day(request.query_params.get("day"), tz)
    start = datetime.combine(day, time(0), tzinfo=tz)
    shifts = await shifts_between(request.app.state.services.store, hall, start, start + timedelta(days=1))
    hall_view = next(h for h in halls if h.code == hall)
    return request.app.state.templates.TemplateResponse(request, "rosters.html", {
        "halls": halls, "hall": hall_view, "day": day, "shifts": shifts, "error": error, "report": report,
        "previous_day": day - timedelta(days=1), "next_day": day + timedelta(days=1),
        "message": notice(request.query_params),
    }, status_code=status)


def _scope(request: Request) -> frozenset[str] | None:
    user = current_user(request)
    assert user is not None
    return None if user.has("admin") else user.town_filter()


@staff(*EDITORS)
async def rosters_page(request: Request) -> Response:
    return await _page(request)


@staff(*EDITORS)
async def rosters_add(request: Request) -> Response:
    user = current_user(request)
    assert user is not None
    form = await request.form()
    hall = str(form.get("hall", ""))
    if not user.has("admin"):
        require_town(request, hall)
    tz = ZoneInfo(request.app.state.settings.timezone)
    try:
        day = date.fromisoformat(str(form.get("day", "")))
        starts = datetime.combine(day, time.fromisoformat(str(form.get("start", ""))), tzinfo=tz)
        ends = datetime.combine(day, time.fromisoformat(str(form.get("end", ""))), tzinfo=tz)
        await add_shift(request.app.state.services.store, hall=hall, window=str(form.get("window", "")),
                        employee_no=str(form.get("employee_no", "")), name=str(form.get("name", "")),
                        starts_at=starts, ends_at=ends, actor=user.username)
    except (RosterError, ValueError) as exc:
        return await _page(request, error=str(exc), status=400)
    await audit(request.app.state.services.store, request, user, "roster:add", target_type="hall", target_id=hall,
                detail={"window": str(form.get("window", "")), "employee_no": str(form.get("employee_no", "")),
                        "starts_at": starts.isoformat(), "ends_at": ends.isoformat()})
    return RedirectResponse(notice_url("/rosters", "roster_added", hall=hall, day=day.isoformat()), status_code=303)


@staff(*EDITORS)
async def rosters_delete(request: Request) -> Response:
    user = current_user(request)
    form = await request.form()
    shift_id = str(form.get("shift", ""))
    if not shift_id.isdigit():
        raise HTTPException(400, "缺少班次编号")
    try:
        await delete_shift(request.app.state.services.store, int(shift_id), towns=_scope(request))
    except PermissionError as exc:
        raise HTTPException(403, str(exc)) from None
    except RosterError as exc:
        raise HTTPException(404, str(exc)) from None
    await audit(request.app.state.services.store, request, user, "roster:delete", target_type="shift",
                target_id=shift_id)
    back = notice_url("/rosters", "roster_deleted", hall=str(form.get("hall", "")), day=str(form.get("day", "")))
    return RedirectResponse(back, status_code=303)


@staff(*EDITORS)
async def rosters_import(request: Request) -> Response:
    user = current_user(request)
    assert user is not None
    if int(request.headers.get("content-length") or 0) > MAX_CSV_BYTES + 4096:
        raise HTTPException(413, "文件太大（上限 1 MB）")
    form = await request.form()
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return await _page(request, error="请选择 CSV 文件", status=400)
    data = await upload.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        raise HTTPException(413, "文件太大（上限 1 MB）")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            return await _page(request, error="无法识别文件编码（请用 UTF-8 或 GBK 保存）", status=400)
    try:
        report = await import_csv(request.app.state.services.store, text, actor=user.username, towns=_scope(request))
    except RosterError as exc:
        return await _page(request, error=str(exc), status=400)
    await audit(request.app.state.services.store, request, user, "roster:import",
                detail={"added": report.added, "unchanged": report.unchanged, "errors": len(report.errors)})
    return await _page(request, report=report, status=200 if not report.errors else 400)


@staff(*ROLES)
async def my_evaluations(request: Request) -> Response:
    """Evaluations attributed to the signed-in person as window staff (no citizen data at all)."""
    user = current_user(request)
    assert user is not None
    async with request.app.state.services.store.read() as session:
        members = list((await session.execute(
            select(StaffMember.id, StaffMember.name, Hall.name).join(Hall, Hall.id == StaffMember.hall_id)
            .where(StaffMember.user_id == user.id))).all())
        cases = list((await session.execute(
            select(Case).where(Case.staff_id.in_([m[0] for m in members]))
            .order_by(Case.received_at.desc()).limit(200))).scalars()) if members else []
    return request.app.state.templates.TemplateResponse(request, "my_evaluations.html", {
        "members": members, "cases": cases, "statuses": STATUS_LABELS, "categories": CATEGORY_LABELS,
        "channels": CHANNEL_LABELS, "attributions": ATTRIBUTION_LABELS,
    })


routes = [
    Route("/rosters", rosters_page, methods=["GET"], name="rosters"),
    Route("/rosters/add", rosters_add, methods=["POST"], name="rosters_add"),
    Route("/rosters/delete", rosters_delete, methods=["POST"], name="rosters_delete"),
    Route("/rosters/import", rosters_import, methods=["POST"], name="rosters_import"),
    Route("/me/evaluations", my_evaluations, methods=["GET"], name="my_evaluations"),
]
