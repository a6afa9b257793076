"""Web routes of the hotline: the operator's page and the Twilio webhooks.

Staff (``operator``, ``supervisor``): ``/hotline`` (the page), ``/hotline/calls`` (log a call),
``/hotline/history`` (a caller's earlier cases; the number travels in the POST body, never in a
URL), ``/hotline/callbacks`` (the call-back list), ``/hotline/callbacks/{id}/attempt``,
``/hotline/visits`` (a return visit on a case) and ``/hotline/reveal`` (a full number, audited).
Forms work without JavaScript (post, then redirect); ``hotline.js`` makes the same calls as JSON.
Opened as a link (GET), each of these form addresses leads to the page that holds its form.

Twilio (``/twilio/...``): public, but every request must carry a valid ``X-Twilio-Signature`` for
the URL Twilio called, rebuilt from ``HCP_PUBLIC_URL`` (the app sits behind a proxy); otherwise 403.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from channels.intake import IntakeError
from channels.phone.calllog import CallLogError
from channels.phone.twilio import (
    TwilioPayloadError,
    empty_messaging_twiml,
    goodbye_twiml,
    public_request_url,
    signature_valid,
    sms_status,
    voice_twiml,
)
from channels.ratings import RATING_LABELS, REASONS, Rating
from gateway.auth.access import current_user, public, staff
from gateway.auth.audit import client_ip
from gateway.auth.roles import Principal
from gateway.core.cases import CaseNotFound
from gateway.core.db.models import Case
from gateway.core.domain import CaseStatus, Category
from gateway.core.sms_config import sms_ready
from gateway.core.workflow import WorkflowError
from gateway.phone import twilio_hooks
from gateway.phone.common import countdown
from gateway.phone.hotline import caller_history, form_choices, log_call, new_call_id
from gateway.phone.options import PhoneOptions
from gateway.phone.return_visits import (
    Questionnaire,
    ScopeError,
    open_callbacks,
    record_task_attempt,
    record_visit,
    reveal_phone,
)
from gateway.phone.sms import twilio_report
from gateway.sms.delivery import apply_report
from gateway.ui.notices import notice, notice_url

ROLES = ("operator", "supervisor")
XML = "application/xml"


def _options(request: Request) -> PhoneOptions:
    options = getattr(request.app.state, "phone_options", None)
    if options is None:
        options = request.app.state.phone_options = PhoneOptions()
    return options


def _user(request: Request) -> Principal:
    user = current_user(request)
    assert user is not None  # @staff guarantees it
    return user


def _json_wanted(request: Request) -> bool:
    return ("application/json" in request.headers.get("accept", "")
            or request.headers.get("content-type", "").startswith("application/json"))


async def _payload(request: Request) -> dict[str, Any]:
    """The request's fields as a dict, from JSON or a form (``reasons`` as a list)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(await request.body() or b"{}")
        except json.JSONDecodeError:
            raise HTTPException(400, "请求内容不是有效的 JSON") from None
        if not isinstance(data, dict):
            raise HTTPException(400, "请求内容应为 JSON 对象")
        return data
    form = await request.form()
    data: dict[str, Any] = {key: value for key, value in form.items() if isinstance(value, str)}
    data["reasons"] = [value for value in form.getlist("reasons") if isinstance(value, str)]
    return data


def _tz(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.services.settings.timezone)


# ----- the operator's page -----------------------------------------------------------------------------

async def _saved_case(request: Request, code: str) -> dict[str, Any] | None:
    """The case just saved (no-JavaScript flow: the page is drawn again after a redirect)."""
    services = request.app.state.services
    async with services.store.read() as session:
        case = (await session.execute(select(Case).where(Case.code == code))).scalar_one_or_none()
    if case is None:
        return None
    tz, now = _tz(request), datetime.now(UTC)
    due = case.first_response_due or case.result_due
    category = Category(case.category) if case.category else None
    return {"code": case.code, "status_label": CaseStatus(case.status).label,
            "category_label": category.label if category else None, "needs_review": case.needs_review,
            "first_response_due": case.first_response_due.astimezone(tz).strftime("%Y-%m-%d %H:%M")
            if case.first_response_due else None,
            "result_due": case.result_due.astimezone(tz).strftime("%Y-%m-%d %H:%M") if case.result_due else None,
            "countdown": countdown(due, now).text if due else None, "level": countdown(due, now).level if due else None,
            "message": f"已保存 {case.code}"}


async def _page(request: Request, *, values: dict[str, Any] | None = None, problems: dict[str, str] | None = None,
                saved: dict[str, Any] | None = None, status: int = 200) -> Response:
    services = request.app.state.services
    user = _user(request)
    tz = _tz(request)
    callbacks = await open_callbacks(services, town_filter=user.town_filter(), limit=100, options=_options(request))
    now = datetime.now(UTC)
    return request.app.state.templates.TemplateResponse(request, "hotline.html", {
        "choices": await form_choices(services), "callbacks": [c.as_dict(tz) for c in callbacks],
        "call_id": (values or {}).get("call_id") or new_call_id(),
        "started_at": (values or {}).get("started_at") or now.isoformat(timespec="seconds"),
        "values": values or {}, "problems": problems or {}, "saved": saved,
        "ratings": [(r.value, r.score, RATING_LABELS[r]) for r in Rating], "reasons": REASONS,
        "now": now.astimezone(tz), "visit_message": notice(request.query_params),
        "area_code": _options(request).area_code, "sms": sms_ready(services.settings),
    }, status_code=status)


@staff(*ROLES)
async def hotline_page(request: Request) -> Response:
    saved_code = request.query_params.get("saved")
    saved = await _saved_case(request, saved_code) if saved_code else None
    return await _page(request, saved=saved)


@staff(*ROLES)
async def save_call(request: Request) -> Response:
    services = request.app.state.services
    data = await _payload(request)
    try:
        logged = await log_call(services, data, _user(request), ip=client_ip(request), options=_options(request))
    except CallLogError as exc:
        if _json_wanted(request):
            return JSONResponse({"error": "来电记录有误，请按提示修改", "problems": exc.problems}, status_code=422)
        return await _page(request, values=data, problems=exc.problems, status=422)
    if _json_wanted(request):
        now = datetime.now(UTC)
        return JSONResponse({"ok": True, "result": logged.as_dict(_tz(request), now), "next_call_id": new_call_id(),
                             "started_at": now.isoformat(timespec="seconds")})
    return RedirectResponse(f"/hotline?saved={logged.code}", status_code=303)


@staff(*ROLES)
async def history(request: Request) -> Response:
    data = await _payload(request)
    phone = str(data.get("phone") or "").strip()
    if not phone:
        return JSONResponse({"phone": None, "cases": [], "open_tasks": 0})
    try:
        found = await caller_history(request.app.state.services, phone, _user(request), options=_options(request))
    except CallLogError as exc:
        return JSONResponse({"error": exc.problems.get("phone", str(exc)), "problems": exc.problems},
                            status_code=422)
    return JSONResponse(found)


FRAGMENT_HEADER = "x-hcp-fragment"


@staff(*ROLES)
async def callbacks(request: Request) -> Response:
    user = _user(request)
    entries = await open_callbacks(request.app.state.services, town_filter=user.town_filter(),
                                   options=_options(request))
    listed = [entry.as_dict(_tz(request)) for entry in entries]
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"callbacks": listed})
    # The hotline page refreshes its list with a fetch that says so; the address bar gets a whole page.
    fragment = request.headers.get(FRAGMENT_HEADER) == "1" or request.headers.get("hx-request") == "true"
    return request.app.state.templates.TemplateResponse(
        request, "hotline_callbacks.html" if fragment else "hotline_callbacks_page.html",
        {"callbacks": listed, "standalone": not fragment})


def _choice(value: Any) -> bool | None:
    text = str(value if value is not None else "").strip().lower()
    if text in ("1", "yes", "true", "on", "是", "满意"):
        return True
    if text in ("0", "no", "false", "off", "否", "不满意"):
        return False
    return None


def _score(value: Any, label: str) -> int | None:
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValueError(f"{label}只能是 1 到 5 分")
    return int(text)


def _done(request: Request, code: str, payload: dict[str, Any], case: str | None = None) -> Response:
    """JSON with the notice for the page's script; for a plain form, a redirect with the notice code."""
    values = {"case": case} if case else {}
    if _json_wanted(request):
        return JSONResponse({"ok": True, "message": notice({"done": code, **values}), **payload})
    return RedirectResponse(notice_url("/hotline", code, **values), status_code=303)


def _refused(request: Request, status: int, message: str) -> Response:
    if _json_wanted(request):
        return JSONResponse({"error": message}, status_code=status)
    raise HTTPException(status, message)


@staff(*ROLES)
async def callback_attempt(request: Request) -> Response:
    data = await _payload(request)
    reached = _choice(data.get("reached"))
    give_up = _choice(data.get("give_up")) is True
    if reached is None and not give_up:
        return _refused(request, 422, "请选择 已接通 或 未接通")
    try:
        status = await record_task_attempt(
            request.app.state.services, request.path_params["task_id"], reached=bool(reached), who=_user(request),
            note=str(data.get("note") or ""), give_up=give_up, ip=client_ip(request), options=_options(request))
    except LookupError as exc:
        return _refused(request, 404, str(exc))
    except ScopeError as exc:
        return _refused(request, 403, str(exc))
    except (WorkflowError, ValueError) as exc:
        return _refused(request, 409 if isinstance(exc, WorkflowError) else 422, str(exc))
    code = {"done": "callback_done", "cancelled": "callback_cancelled"}.get(status, "callback_retry")
    return _done(request, code, {"status": status})


@staff(*ROLES)
async def visit(request: Request) -> Response:
    data = await _payload(request)
    code = str(data.get("case_code") or "").strip().upper()
    reached = _choice(data.get("reached"))
    if not code:
        return _refused(request, 422, "缺少受理编号")
    if reached is None:
        return _refused(request, 422, "请选择 已接通 或 未接通")
    try:
        questionnaire = Questionnaire(
            problem_solved=str(data.get("problem_solved") or "").strip() or None,
            rectification_satisfaction=str(data.get("rectification_satisfaction") or "").strip() or None,
            policy_awareness=_score(data.get("policy_awareness"), "政策知悉度"),
            convenience=_score(data.get("convenience"), "办事便利度"),
            service_satisfaction=_score(data.get("service_satisfaction"), "服务满意度"))
        result = await record_visit(request.app.state.services, code, reached=reached, who=_user(request),
                                    satisfied=_choice(data.get("satisfied")) if reached else None,
                                    note=str(data.get("note") or "") or None, questionnaire=questionnaire,
                                    ip=client_ip(request))
    except CaseNotFound:
        return _refused(request, 404, f"没有受理编号为 {code} 的案件")
    except ScopeError as exc:
        return _refused(request, 403, str(exc))
    except WorkflowError as exc:
        return _refused(request, 409, str(exc))
    except ValueError as exc:
        return _refused(request, 422, str(exc))
    # 回电 (the call back before the reply) and 回访 (the return visit after it) are two duties.
    if not reached:
        code = "visit_unreached"
    elif result.transitioned:
        code = "visit_closed"
    else:
        code = "visit_recorded" if result.purpose == "return_visit" else "call_back_recorded"
    return _done(request, code, {"case_code": result.case_code, "status": result.status,
                                 "transitioned": result.transitioned}, case=result.case_code)


@staff(*ROLES)
async def reveal(request: Request) -> Response:
    data = await _payload(request)
    try:
        phone = await reveal_phone(request.app.state.services, str(data.get("ref") or ""), _user(request),
                                   ip=client_ip(request))
    except ScopeError as exc:
        return JSONResponse({"error": str(exc)}, status_code=403)
    except (LookupError, CaseNotFound) as exc:
        return JSONResponse({"error": str(exc)}, status_code=404)
    return JSONResponse({"phone": phone})


# ----- Twilio ---------------------------------------------------------------------------------------------------

async def _twilio_form(request: Request) -> FormData:
    """The webhook's parameters, after checking Twilio's signature against the public URL (else 403)."""
    settings = request.app.state.services.settings
    token = settings.twilio_auth_token
    if token is None or not settings.twilio_account_sid:
        raise HTTPException(403, "未配置 Twilio，拒绝该请求")
    form = await request.form()
    url = public_request_url(settings.public_url, request.url.path, request.url.query)
    if not signature_valid(token.get_secret_value(), url, form, request.headers.get("x-twilio-signature"),
                           request.headers.get("x-twilio-webhooks-signature-settings")):
        raise HTTPException(403, "Twilio 签名校验失败")
    account = form.get("AccountSid")
    if account and account != settings.twilio_account_sid:
        raise HTTPException(403, "不是本系统的 Twilio 账号")
    return form


def _xml(twiml: str) -> Response:
    return Response(twiml, media_type=XML)


def _bad(exc: Exception) -> HTTPException:
    return HTTPException(400, f"Twilio 请求参数有误：{exc}")


@public(why="Twilio signature checked")
async def twilio_voice(request: Request) -> Response:
    await _twilio_form(request)
    settings, options = request.app.state.services.settings, _options(request)
    return _xml(voice_twiml(
        greeting=options.greeting, max_length=options.record_max_seconds,
        recording_url=public_request_url(settings.public_url, "/twilio/recording"),
        transcription_url=public_request_url(settings.public_url, "/twilio/transcription") if options.transcribe
        else None))


@public(why="Twilio signature checked")
async def twilio_recording(request: Request) -> Response:
    form = await _twilio_form(request)
    try:
        await twilio_hooks.voicemail(request.app.state.services, form, options=_options(request))
    except (TwilioPayloadError, IntakeError) as exc:
        raise _bad(exc) from None
    return _xml(goodbye_twiml())


@public(why="Twilio signature checked")
async def twilio_transcription(request: Request) -> Response:
    form = await _twilio_form(request)
    status = str(form.get("TranscriptionStatus") or "").lower()
    text = str(form.get("TranscriptionText") or "") if status == "completed" else None
    try:
        await twilio_hooks.voicemail(request.app.state.services, form, transcript=text, options=_options(request))
    except (TwilioPayloadError, IntakeError) as exc:
        raise _bad(exc) from None
    return Response(status_code=204)


@public(why="Twilio signature checked")
async def twilio_call_status(request: Request) -> Response:
    form = await _twilio_form(request)
    try:
        await twilio_hooks.call_status(request.app.state.services, form, _options(request))
    except TwilioPayloadError as exc:
        raise _bad(exc) from None
    return Response(status_code=204)


@public(why="Twilio signature checked")
async def twilio_sms(request: Request) -> Response:
    form = await _twilio_form(request)
    try:
        await twilio_hooks.inbound_sms(request.app.state.services, form, _options(request))
    except TwilioPayloadError as exc:
        raise _bad(exc) from None
    return _xml(empty_messaging_twiml())


@public(why="Twilio signature checked")
async def twilio_sms_status(request: Request) -> Response:
    form = await _twilio_form(request)
    raw_id = request.query_params.get("outbox", "")
    try:
        sid, status, error = sms_status(form)
    except TwilioPayloadError as exc:
        raise _bad(exc) from None
    outcome = await apply_report(request.app.state.services, twilio_report(
        sid, status, error, int(raw_id) if raw_id.isdigit() else None))
    if outcome == "unknown":
        raise HTTPException(404, "没有对应的短信记录")
    return Response(status_code=204)


def _page_of(target: str):  # type: ignore[no-untyped-def]
    """A GET on a form-only address (a bookmark, a reload after an error page, a link someone made)
    goes to the page where that form lives instead of a bare 405."""

    @staff(*ROLES)
    async def follow(request: Request) -> Response:
        return RedirectResponse(target, status_code=303)

    return follow


routes = [
    Route("/hotline", hotline_page, methods=["GET"], name="hotline"),
    Route("/hotline/calls", _page_of("/hotline"), methods=["GET"], name="hotline_calls_page"),
    Route("/hotline/history", _page_of("/hotline#history-title"), methods=["GET"], name="hotline_history_page"),
    Route("/hotline/visits", _page_of("/hotline/callbacks"), methods=["GET"], name="hotline_visits_page"),
    Route("/hotline/reveal", _page_of("/hotline"), methods=["GET"], name="hotline_reveal_page"),
    Route("/hotline/calls", save_call, methods=["POST"], name="hotline_save"),
    Route("/hotline/history", history, methods=["POST"], name="hotline_history"),
    Route("/hotline/callbacks", callbacks, methods=["GET"], name="hotline_callbacks"),
    Route("/hotline/callbacks/{task_id:int}/attempt", callback_attempt, methods=["POST"],
          name="hotline_callback_attempt"),
    Route("/hotline/visits", visit, methods=["POST"], name="hotline_visit"),
    Route("/hotline/reveal", reveal, methods=["POST"], name="hotline_reveal"),
    Route("/twilio/voice", twilio_voice, methods=["POST"], name="twilio_voice"),
    Route("/twilio/recording", twilio_recording, methods=["POST"], name="twilio_recording"),
    Route("/twilio/transcription", twilio_transcription, methods=["POST"], name="twilio_transcription"),
    Route("/twilio/call-status", twilio_call_status, methods=["POST"], name="twilio_call_status"),
    Route("/twilio/sms", twilio_sms, methods=["POST"], name="twilio_sms"),
    Route("/twilio/sms-status", twilio_sms_status, methods=["POST"], name="twilio_sms_status"),
]
