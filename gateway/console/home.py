"""The landing page and the health check."""

from __future__ import annotations

from sqlalchemy import func, select, text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.auth.access import public
from gateway.core.db.models import Case
from gateway.core.domain import CaseStatus
from gateway.core.registry import list_halls


@public
async def home(request: Request) -> Response:
    services = request.app.state.services
    async with services.store.read() as session:
        rows = (await session.execute(select(Case.status, func.count()).group_by(Case.status))).all()
    counts = dict(rows)
    status_counts = [(status.label, counts[status.value]) for status in CaseStatus if counts.get(status.value)]
    return request.app.state.templates.TemplateResponse(request, "home.html", {
        "status_counts": status_counts,
        "halls": await list_halls(services.store),
    })


@public
async def healthz(request: Request) -> Response:
    """200 when the database answers; 503 with the reason otherwise."""
    services = request.app.state.services
    try:
        async with services.store.read() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:
        return JSONResponse({"ok": False, "database": type(exc).__name__}, status_code=503)
    return JSONResponse({"ok": True, "database": services.store.dialect})
