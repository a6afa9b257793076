"""The landing page and the health check."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, text
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from gateway.auth.access import public
from gateway.core.db.models import Case
from gateway.core.db.models_web import RateHit
from gateway.core.db.store import is_write_failure
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


FAVICON = Path(__file__).resolve().parent.parent / "ui" / "static" / "favicon.ico"


@public
async def favicon(request: Request) -> Response:
    """Browsers ask for /favicon.ico on every site; answer with the icon rather than a logged 404."""
    return FileResponse(FAVICON, media_type="image/x-icon", headers={"cache-control": "public, max-age=86400"})


@public
async def healthz(request: Request) -> Response:
    """200 when the database answers; 503 with the reason otherwise."""
    services = request.app.state.services
    try:
        async with services.store.read() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:
        return JSONResponse({"ok": False, "database": type(exc).__name__}, status_code=503)
    return JSONResponse({"ok": True, "database": services.store.dialect, **_write_health(services.store)})


def _write_health(store: Any) -> dict[str, Any]:
    health = store.health
    return {"writes_failing": health.failing, "write_failures": health.failures,
            "last_write_failure_at": health.last_failure_at.isoformat() if health.last_failure_at else None,
            "last_write_error": health.last_error}


@public
async def readyz(request: Request) -> Response:
    """200 when the database takes a write now; 503 otherwise (a full disk, a read-only file, a lost
    server), so a load balancer sends citizens to a gateway that can store what they type.  The
    probe inserts and deletes a row in one transaction, which writes to the log like any commit."""
    store = request.app.state.services.store
    try:
        async with store.write() as session:
            await session.execute(insert(RateHit).values(key="readyz", at=datetime.now(UTC)))
            await session.execute(delete(RateHit).where(RateHit.key == "readyz"))
    except Exception as exc:
        if not is_write_failure(exc):
            raise
        return JSONResponse({"ok": False, "write": type(exc).__name__, **_write_health(store)}, status_code=503)
    return JSONResponse({"ok": True, "write": "ok", **_write_health(store)})
