"""The 找茬窗口 citizen pages: the window form, the general form, the receipt and the status lookup.

Every page works without JavaScript and without a login.  The submit path is built to stay fast
and to never count a submission twice:

1. the body is read with a hard size limit and parsed as a plain urlencoded form;
2. the per-address limit is a dictionary lookup; the one-time form token (``channels.web.tokens``)
   is one HMAC, bound to the form (window) and to the browser's random ``hcp_fc`` cookie, which makes
   it the CSRF token too, and needs no database;
3. the hall and window come from an in-memory copy of the registry;
4. ``Ingestor.ingest`` stores the case in one transaction, with the token as ``source_ref``: a
   double tap or a re-sent POST finds the first copy and shows its receipt again.

Whatever goes wrong, the form comes back with the citizen's words in it and one Chinese sentence
saying what to do; only a forged window link gets a 404 page.  No personal data goes into a URL
or a log line: the receipt URL carries the token and a proof bound to the cookie, not the case.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from channels.ratings import REASONS, Rating
from channels.web.form import (
    ENTRIES,
    NO_HALL,
    NO_ITEM,
    PHONE_ONLY,
    REPLY_LABELS,
    TEXT_MAX,
    FormError,
    FormValues,
    build_intake,
    read_values,
)
from channels.web.links import verify_link
from channels.web.tokens import (
    TokenError,
    TokenProblem,
    issue_token,
    new_client_id,
    valid_client_id,
    verify_token,
)
from gateway.auth.access import public
from gateway.auth.audit import client_ip
from gateway.core.db.store import is_write_failure
from gateway.core.ingest import IngestError
from gateway.core.sms_config import sms_ready
from gateway.ui.big_text import big_text, remember_big_text
from gateway.web.lookup import CODE_SHAPE, LookupOutcome, is_used, lookup_status, normalize_code, receipt_for
from gateway.web.state import (
    LOOKUP_FAILURE_PERIOD,
    LOOKUP_FAILURES_PER_CODE,
    LOOKUP_FAILURES_PER_CODE_ALL,
    WebState,
    web_state,
)
from gateway.web.views import citizen_status, day, next_steps, when

log = logging.getLogger(__name__)

CLIENT_COOKIE = "hcp_fc"
CLIENT_COOKIE_AGE = 30 * 86400
MAX_BODY = 32 * 1024
MAX_FIELDS = 60
FORM_TYPE = "application/x-www-form-urlencoded"
STATUS_SCOPE = "s"
GENERAL_SCOPE = "f"
SECRET = re.compile(r"^\d{4}$")
# The fields in the order the page shows them.
FIELD_ORDER = ("form", "hall", "item", "rating", "reason", "text", "name", "phone", "reply", "consent")

TOKEN_MESSAGES: dict[TokenProblem, tuple[int, str]] = {
    TokenProblem.MISSING: (400, "页面缺少校验码，无法确认来源。您填写的内容都还在，请核对后再点一次“提交”。"),
    TokenProblem.MALFORMED: (403, "页面校验码不正确（页面可能被改动过）。您填写的内容都还在，请核对后再点一次“提交”。"),
    TokenProblem.FORGED: (403, "页面校验未通过（页面可能来自其他网站或其他设备）。您填写的内容都还在，"
                               "请核对后再点一次“提交”。"),
    TokenProblem.EXPIRED: (400, "页面打开时间太久，为了安全需要重新确认。您填写的内容都还在，请再点一次“提交”。"),
    TokenProblem.NO_CLIENT: (403, "为确认是您本人提交，请再点一次“提交”。如果一直出现这句话，"
                                  "请在浏览器设置里允许本网站使用 Cookie。"),
}
LIMIT_MESSAGE = "提交太频繁了，请过 {minutes} 分钟再提交。您填写的内容都还在，不用重写。"
UNAVAILABLE_MESSAGE = "暂时无法提交，您填写的内容已保留，请稍后再试。"
WINDOW_LIMIT_MESSAGE = "这个窗口刚刚收到的评价太多，系统暂停接收 {minutes} 分钟。您填写的内容都还在，请稍后再点“提交”。"


@dataclass(frozen=True, slots=True)
class Target:
    """Which form a page shows and where it posts."""

    kind: str  # "window" or "general"
    action: str
    scope: str
    hall: str | None = None
    window: str | None = None
    hall_name: str | None = None
    window_name: str | None = None
    entry: str = "web"


def _now() -> datetime:
    return datetime.now(UTC)


def _tz(state: WebState) -> ZoneInfo:
    return ZoneInfo(state.settings.timezone)


# ----- cookies and rendering -------------------------------------------------------------------

def _client(request: Request) -> tuple[str, bool]:
    """The browser's binding cookie value, and whether it is new (to be set on the response)."""
    value = request.cookies.get(CLIENT_COOKIE)
    if valid_client_id(value):
        return value, False  # type: ignore[return-value]
    return new_client_id(), True


def _render(request: Request, template: str, context: dict[str, Any], *, status: int = 200,
            client: tuple[str, bool] | None = None, headers: dict[str, str] | None = None) -> Response:
    big, set_big = big_text(request)
    response = request.app.state.templates.TemplateResponse(
        request, template, {"big": big, **context}, status_code=status, headers=headers)
    secure = request.url.scheme == "https"
    if client is not None and client[1]:
        response.set_cookie(CLIENT_COOKIE, client[0], max_age=CLIENT_COOKIE_AGE, httponly=True, samesite="lax",
                            secure=secure, path="/")
    return remember_big_text(request, response, set_big)


def _receipt_proof(state: WebState, token: str, client: str) -> str:
    digest = hmac.new(state.token_key, f"receipt|{token}|{client}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode().rstrip("=").lower()


def _replies(request: Request) -> tuple[str, ...]:
    """The reply methods the form may offer: SMS only when it can actually be sent."""
    return tuple(REPLY_LABELS) if sms_ready(request.app.state.services.settings) else PHONE_ONLY


def _to_receipt(state: WebState, token: str, client: str) -> Response:
    return RedirectResponse(f"/f/ok/{token}/{_receipt_proof(state, token, client)}", status_code=303)


async def _form_page(request: Request, target: Target, *, values: FormValues | None = None,
                     problems: dict[str, str] | None = None, message: str | None = None, status: int = 200,
                     headers: dict[str, str] | None = None, token: str | None = None) -> Response:
    """The form; ``token`` keeps the submitted one-time token (a retry after a database failure must
    land on the same case if the first attempt was stored after all)."""
    state = web_state(request)
    client = _client(request)
    token = token or issue_token(state.token_key, scope=target.scope, client=client[0], now=_now())
    halls: dict[str, str] = {}
    items: tuple = ()
    try:
        snapshot = await state.registry.get()
        halls = snapshot.hall_names if target.kind == "general" else {}
        items = snapshot.items(target.hall, target.window) if target.kind == "window" else ()
    except Exception as exc:  # the database is down: the form still comes back with the text
        if not is_write_failure(exc):
            raise
    values = values or FormValues(entry=target.entry)
    problems = problems or {}
    ordered = {name: problems[name] for name in FIELD_ORDER if name in problems} | problems
    return _render(request, "form.html", {
        "target": target, "values": values, "problems": ordered, "message": message, "token": token,
        "ratings": [(rating.value, rating.label, rating.is_bad) for rating in Rating],
        "reasons": REASONS, "reply_labels": {code: REPLY_LABELS[code] for code in _replies(request)},
        "text_max": TEXT_MAX, "halls": halls, "no_hall": NO_HALL, "items": items, "no_item": NO_ITEM,
    }, status=status, client=client, headers=headers)


# ----- reading a post --------------------------------------------------------------------------

async def _read_form(request: Request) -> dict[str, list[str]]:
    """The posted fields; 415 for anything but a urlencoded form, 413 above ``MAX_BODY`` bytes."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise HTTPException(415, "请通过评价页面提交（表单格式不正确）")
    declared = request.headers.get("content-length", "")
    if declared and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise HTTPException(413, f"提交的内容太长（超过 {MAX_BODY // 1024} KB），请删减后再提交")
    size, chunks = 0, []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise HTTPException(413, f"提交的内容太长（超过 {MAX_BODY // 1024} KB），请删减后再提交")
        chunks.append(chunk)
    try:
        return parse_qs(b"".join(chunks).decode("utf-8", errors="replace"), keep_blank_values=True,
                        max_num_fields=MAX_FIELDS)
    except ValueError:
        raise HTTPException(400, "表单内容异常，请刷新页面后重新填写") from None


# ----- the window form and the general form ----------------------------------------------------

async def _window_target(request: Request) -> Target:
    state = web_state(request)
    hall, window, signature = (request.path_params[name] for name in ("hall", "window", "sig"))
    if not verify_link(state.signing_key, hall, window, signature):
        raise _InvalidLink("这个评价链接不完整或被改动过，无法打开。请重新扫描窗口上的二维码。")
    found = (await state.registry.get()).window(hall, window)
    if found is None:
        raise _InvalidLink("这个窗口已经撤销或暂停使用。您仍然可以用通用评价页提出意见。")
    info, window_name = found
    return Target("window", request.scope["path"], f"w:{hall}:{window}", hall, window, info.name, window_name)


class _InvalidLink(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _invalid_link(request: Request, message: str) -> Response:
    return _render(request, "form_invalid.html", {"message": message}, status=404)


@public
async def window_form(request: Request) -> Response:
    try:
        target = await _window_target(request)
    except _InvalidLink as exc:
        return _invalid_link(request, exc.message)
    return await _form_page(request, target)


@public
async def window_submit(request: Request) -> Response:
    try:
        target = await _window_target(request)
    except _InvalidLink as exc:
        return _invalid_link(request, exc.message)
    return await _submit(request, target)


@public
async def unsigned_window(request: Request) -> Response:
    """``/w/{hall}/{window}`` without its signature: typed by hand or cut off when shared."""
    return _invalid_link(request, "这个评价链接缺少校验码（可能复制不完整）。请重新扫描窗口上的二维码。")


def _general_target(request: Request, entry: str | None = None) -> Target:
    entry = entry if entry in ENTRIES else request.query_params.get("src", "web")
    return Target("general", "/f", GENERAL_SCOPE, entry=entry if entry in ENTRIES else "web")


@public
async def general_form(request: Request) -> Response:
    target = _general_target(request)
    hall = request.query_params.get("hall", "")
    halls = (await web_state(request).registry.get()).hall_names
    values = FormValues(entry=target.entry, hall=hall if hall in halls else "")
    return await _form_page(request, target, values=values)


@public
async def general_submit(request: Request) -> Response:
    return await _submit(request, _general_target(request))


async def _submit(request: Request, target: Target) -> Response:
    """Store a submission; when the database or its disk fails, the form comes back with the text."""
    values = read_values(await _read_form(request))
    try:
        return await _store_submission(request, target, values)
    except Exception as exc:
        if not is_write_failure(exc):
            raise
        log.error("web form %s: the database failed (%s); the form was shown again with its text",
                  target.scope, type(exc).__name__)
        return await _form_page(request, target, values=values, message=UNAVAILABLE_MESSAGE, status=503,
                                headers={"Retry-After": "60"}, token=values.token or None)


async def _store_submission(request: Request, target: Target, values: FormValues) -> Response:
    state = web_state(request)
    services = request.app.state.services
    if target.kind == "general":
        target = _general_target(request, values.entry)
    client = request.cookies.get(CLIENT_COOKIE)
    now = _now()

    async def retried() -> Response | None:
        """The receipt, when this token's submission is already stored (an honest repeat)."""
        try:
            token = verify_token(state.token_key, values.token, scope=target.scope, client=client, now=now,
                                 max_age=state.token_max_age)
        except TokenError:
            return None
        if await is_used(services.store, token.value):
            return _to_receipt(state, token.value, client or "")
        return None

    address = client_ip(request) or "-"
    if wait := await state.per_client.hit(state.address_key(address)):
        return await retried() or await _form_page(
            request, target, values=values, message=LIMIT_MESSAGE.format(minutes=max(1, round(wait / 60))),
            status=429, headers={"Retry-After": str(wait)})
    try:
        token = verify_token(state.token_key, values.token, scope=target.scope, client=client, now=now,
                             max_age=state.token_max_age)
    except TokenError as exc:
        log.info("web form %s refused: token %s", target.scope, exc.problem.value)
        status, message = TOKEN_MESSAGES[exc.problem]
        return await _form_page(request, target, values=values, message=message, status=status)
    if token.expired:
        if await is_used(services.store, token.value):
            return _to_receipt(state, token.value, client or "")
        status, message = TOKEN_MESSAGES[TokenProblem.EXPIRED]
        return await _form_page(request, target, values=values, message=message, status=status)
    snapshot = await state.registry.get()
    halls = snapshot.hall_names if target.kind == "general" else None
    items = dict(snapshot.items(target.hall, target.window)) if target.kind == "window" else None
    try:
        intake = build_intake(values, source_ref=token.value, received_at=now, hall=target.hall,
                              window=target.window, halls=halls, items=items, replies=_replies(request))
    except FormError as exc:
        return await _form_page(request, target, values=values, problems=exc.problems, status=400)
    window_key = target.scope if target.kind == "window" else f"f:{intake.hall or NO_HALL}"
    if wait := await state.per_window.hit(window_key):
        log.warning("web form %s: per-window limit reached", window_key)
        return await retried() or await _form_page(
            request, target, values=values, message=WINDOW_LIMIT_MESSAGE.format(minutes=max(1, round(wait / 60))),
            status=429, headers={"Retry-After": str(wait)})
    try:
        result = await services.ingestor.ingest(intake)
    except IngestError:
        state.registry.invalidate()
        return await _form_page(request, target, values=values, status=409,
                                message="窗口信息刚刚有变化，请重新扫描窗口上的二维码后再提交。您填写的内容都还在。")
    log.info("web submission %s: case %s%s", target.scope, result.case_code, " (repeat)" if result.duplicate else "")
    return _to_receipt(state, token.value, client or "")


# ----- the receipt -----------------------------------------------------------------------------

@public
async def receipt_page(request: Request) -> Response:
    state = web_state(request)
    token, proof = request.path_params["token"], request.path_params["proof"]
    client = request.cookies.get(CLIENT_COOKIE) or ""
    not_here = "找不到这份回执。回执只在提交评价的手机上显示；请用受理编号在“进度查询”里查看。"
    if len(token) > 64 or not hmac.compare_digest(_receipt_proof(state, token, client), proof.lower()[:32]):
        raise HTTPException(404, not_here)
    receipt = await receipt_for(request.app.state.services.store, request.app.state.services.cipher, token)
    if receipt is None:
        raise HTTPException(404, not_here)
    tz = _tz(state)
    return _render(request, "form_done.html", {
        "receipt": receipt, "steps": next_steps(receipt, state.signing_key, tz,
                                                   sms=sms_ready(request.app.state.services.settings)),
        "rating_label": Rating(receipt.rating).label if receipt.rating else None,
        "status_url": "/status?" + urlencode({"code": receipt.code}),
    })


# ----- status lookup ---------------------------------------------------------------------------

def _status_page(request: Request, *, code: str = "", problems: dict[str, str] | None = None,
                 message: str | None = None, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    state = web_state(request)
    client = _client(request)
    token = issue_token(state.token_key, scope=STATUS_SCOPE, client=client[0], now=_now())
    return _render(request, "status.html", {"code": code, "token": token, "problems": problems or {},
                                            "message": message}, status=status, client=client, headers=headers)


@public
async def status_form(request: Request) -> Response:
    return _status_page(request, code=normalize_code(request.query_params.get("code", ""))[:32])


@public
async def status_lookup(request: Request) -> Response:
    try:
        return await _status_lookup(request)
    except Exception as exc:
        if not is_write_failure(exc):
            raise
        log.error("status lookup: the database failed (%s)", type(exc).__name__)
        return _status_page(request, status=503, headers={"Retry-After": "60"},
                            message="暂时无法查询，请稍后再试。")


async def _status_lookup(request: Request) -> Response:
    state = web_state(request)
    services = request.app.state.services
    fields = await _read_form(request)
    raw_code = (fields.get("code") or [""])[-1]
    code = normalize_code(raw_code)
    secret = (fields.get("secret") or [""])[-1].strip().translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    shown_code = code[:32]
    address = client_ip(request) or "-"
    if wait := await state.lookups_per_address.hit(state.address_key(address)):
        return _status_page(request, code=shown_code, status=429, headers={"Retry-After": str(wait)},
                            message=f"查询次数太多，请过 {max(1, round(wait / 60))} 分钟再试。")
    try:
        token = verify_token(state.token_key, (fields.get("t") or [""])[-1], scope=STATUS_SCOPE,
                             client=request.cookies.get(CLIENT_COOKIE), now=_now(), max_age=state.token_max_age)
        if token.expired:
            raise TokenError(TokenProblem.EXPIRED)
    except TokenError as exc:
        status, _ = TOKEN_MESSAGES[exc.problem]
        return _status_page(request, code=shown_code, status=status,
                            message="页面需要重新确认，请再点一次“查询”。")
    problems: dict[str, str] = {}
    if not CODE_SHAPE.match(code):
        problems["code"] = "受理编号的样子是 JX20261128-0007，请核对后再输入"
    if not SECRET.match(secret):
        problems["secret"] = "请输入 4 位数字：电话号码后四位，或回执上的查询码"
    if problems:
        return _status_page(request, code=shown_code, problems=problems, status=400)
    result = await lookup_status(services.store, services.cipher, state.signing_key, code, secret, now=_now(),
                                 limit=LOOKUP_FAILURES_PER_CODE, period=LOOKUP_FAILURE_PERIOD,
                                 client=state.address_key(address), limit_all=LOOKUP_FAILURES_PER_CODE_ALL)
    if result.outcome is LookupOutcome.BLOCKED:
        return _status_page(request, code=shown_code, status=429, headers={"Retry-After": "86400"},
                            message="这个受理编号的查询错误次数太多，已暂停网上查询 24 小时。"
                                    "请带上受理编号到服务大厅或拨打服务电话查询。")
    if result.outcome is LookupOutcome.WRONG:
        return _status_page(request, code=shown_code, status=400,
                            message="受理编号或 4 位数字不对，请核对后再试。多次输错会暂停查询。")
    view = result.view
    assert view is not None
    tz = _tz(state)
    return _render(request, "status_result.html", {
        "view": view, "status_label": citizen_status(view.status), "received": day(view.received_at, tz),
        "closed": day(view.closed_at, tz) if view.closed_at else None,
        "due": when(view.due, tz) if view.due else None,
        "replies": [(when(reply.at, tz), reply.text) for reply in view.replies],
    })


routes = [
    Route("/w/{hall}/{window}/{sig}", window_form, methods=["GET"], name="web_window_form"),
    Route("/w/{hall}/{window}/{sig}", window_submit, methods=["POST"], name="web_window_submit"),
    Route("/w/{hall}/{window}", unsigned_window, methods=["GET", "POST"], name="web_window_unsigned"),
    Route("/f", general_form, methods=["GET"], name="web_form"),
    Route("/f", general_submit, methods=["POST"], name="web_submit"),
    Route("/f/ok/{token}/{proof}", receipt_page, methods=["GET"], name="web_receipt"),
    Route("/status", status_form, methods=["GET"], name="web_status"),
    Route("/status", status_lookup, methods=["POST"], name="web_status_lookup"),
]
