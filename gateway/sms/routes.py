"""The SMS channel: delivery-report endpoints for Tencent and Alibaba, and the staff page ``/sms``.

Neither provider signs its report pushes, so their URLs carry a secret (``HCP_SMS_REPORT_TOKEN``),
compared in constant time; without the token configured the endpoints answer 404.  Tencent posts a
JSON array and wants ``{"result": 0}``; Alibaba's HTTP batch push posts a JSON array and wants
``{"code": 0}``.  Twilio's signed callback stays with the hotline (``/twilio/sms-status``).

``/sms`` says which provider sends, what configuration is missing (so no page offers SMS until it
is complete), the queue by state, delivery over the last 7 days, and recent failures — without a
number or a message text.
"""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.auth.access import public, staff
from gateway.core.db.models import Case, OutboxMessage
from gateway.core.sms_config import OPTIONAL_TEMPLATES, PROVIDER_NAMES, REQUIRED_TEMPLATES, sms_missing
from gateway.sms.delivery import apply_report, domestic_report
from gateway.sms.tencent import parse_reports

KINDS = {"acknowledgement": "受理回执", "reply": "办理答复", "reply_notice": "答复通知", "return_visit": "回访通知",
         "evaluation_request": "评价邀请"}
STATES = {"pending": "待发送", "sending": "发送中", "sent": "已发送", "failed": "发送失败"}
MAX_REPORT_BYTES = 256 * 1024


def _token_ok(request: Request) -> None:
    token = request.app.state.services.settings.sms_report_token
    given = request.path_params.get("token", "")
    if token is None or not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
        raise HTTPException(404)


async def _json_array(request: Request) -> list[Any]:
    body = await request.body()
    if len(body) > MAX_REPORT_BYTES:
        raise HTTPException(413, "report too large")
    try:
        data = json.loads(body)
    except ValueError:
        raise HTTPException(400, "not JSON") from None
    if not isinstance(data, list):
        raise HTTPException(400, "a JSON array of reports is expected")
    return data


@public(why="secret token in the URL (the provider does not sign its pushes)")
async def tencent_reports(request: Request) -> Response:
    _token_ok(request)
    data = await _json_array(request)
    services = request.app.state.services
    try:
        reports = list(parse_reports(data))
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    for sid, delivered, code in reports:
        await apply_report(services, domestic_report("tencent", sid, delivered, code))
    return JSONResponse({"result": 0, "errmsg": "OK"})


@public(why="secret token in the URL (the provider does not sign its pushes)")
async def alibaba_reports(request: Request) -> Response:
    _token_ok(request)
    services = request.app.state.services
    for item in await _json_array(request):
        if not isinstance(item, dict) or not item.get("biz_id") or not isinstance(item.get("success"), bool):
            continue
        out_id = str(item.get("out_id") or "")
        await apply_report(services, domestic_report(
            "alibaba", str(item["biz_id"]), item["success"], str(item.get("err_code") or "") or None,
            outbox_id=int(out_id) if out_id.isdigit() else None))
    return JSONResponse({"code": 0, "msg": "成功"})


async def sms_status(services: Any) -> dict[str, Any]:
    settings = services.settings
    since = datetime.now(UTC) - timedelta(days=7)
    async with services.store.read() as session:
        by_state = dict((await session.execute(
            select(OutboxMessage.status, func.count()).where(OutboxMessage.channel == "sms")
            .group_by(OutboxMessage.status))).all())
        recent = (await session.execute(
            select(OutboxMessage).where(OutboxMessage.channel == "sms", OutboxMessage.created_at >= since)
        )).scalars().all()
        failures = (await session.execute(
            select(OutboxMessage, Case.code).outerjoin(Case, Case.id == OutboxMessage.case_id)
            .where(OutboxMessage.channel == "sms", OutboxMessage.status == "failed")
            .order_by(OutboxMessage.id.desc()).limit(30))).all()
    delivery = {"delivered": 0, "failed": 0, "waiting": 0}
    for row in recent:
        state = (row.payload or {}).get("delivery_state")
        if row.status == "failed":
            delivery["failed"] += 1
        elif state == "delivered":
            delivery["delivered"] += 1
        elif row.status == "sent":
            delivery["waiting"] += 1
    templates = [(kind, KINDS[kind], settings.sms_templates.get(kind), kind in REQUIRED_TEMPLATES)
                 for kind in (*REQUIRED_TEMPLATES, *OPTIONAL_TEMPLATES)]
    return {"provider": settings.sms_provider, "provider_name": PROVIDER_NAMES.get(settings.sms_provider or "", ""),
            "missing": sms_missing(settings), "sign_name": settings.sms_sign_name, "templates": templates,
            "report_token": settings.sms_report_token is not None, "by_state": by_state, "delivery": delivery,
            "failures": [(row, code) for row, code in failures], "param_max": settings.sms_param_max}


@staff("supervisor", "admin")
async def sms_page(request: Request) -> Response:
    status = await sms_status(request.app.state.services)
    return request.app.state.templates.TemplateResponse(request, "sms_status.html", {
        "status": status, "kinds": KINDS, "states": STATES,
        "public_url": request.app.state.services.settings.public_url.rstrip("/")})


routes = [
    Route("/sms", sms_page, methods=["GET"], name="sms_status"),
    Route("/sms/reports/tencent/{token}", tencent_reports, methods=["POST"], name="sms_reports_tencent"),
    Route("/sms/reports/alibaba/{token}", alibaba_reports, methods=["POST"], name="sms_reports_alibaba"),
]
