"""Sign-in and sign-out pages for staff.

Failed attempts slow down (exponential back-off, in the database) per account at an address and
per address; the error never says whether the account exists.  A successful sign-in starts a
fresh session (new CSRF token) so a token planted before sign-in is useless afterwards.
"""

from __future__ import annotations

import math

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.auth.access import PASSWORD_PATH, check_csrf, csrf_token, current_user, public, staff
from gateway.auth.audit import audit, client_ip
from gateway.auth.passwords import MIN_LENGTH, PasswordPolicyError
from gateway.auth.roles import ROLES
from gateway.auth.sessions import end_session, start_session
from gateway.auth.users import UserError, authenticate, change_own_password
from gateway.core.limits import Backoff, key_of

# Failed sign-ins slow down per account *at an address* and per address, with exponential back-off
# kept in the database (gateway/core/limits.py), so every gateway counts the same failures and an
# attacker elsewhere cannot lock the owner out of the account.
PAIR_FREE_FAILURES = 5
ADDRESS_FREE_FAILURES = 20


def _backoffs(request: Request) -> tuple[Backoff, Backoff]:
    state = request.app.state
    backoffs = getattr(state, "sign_in_backoffs", None)
    if backoffs is None:
        store = state.services.store
        backoffs = state.sign_in_backoffs = (Backoff(store, PAIR_FREE_FAILURES), Backoff(store, ADDRESS_FREE_FAILURES))
    return backoffs


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths, so the sign-in page cannot be used as an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console"


def _form(request: Request, *, error: str | None = None, username: str = "", status: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(request, "login.html", {
        "error": error, "username": username, "next": _safe_next(request.query_params.get("next")),
    }, status_code=status)


@public
async def login_page(request: Request) -> Response:
    if current_user(request) is not None:
        return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    csrf_token(request)
    return _form(request)


def _wait_text(seconds: int) -> str:
    return f"{seconds} 秒" if seconds < 60 else f"{math.ceil(seconds / 60)} 分钟"


@public
async def login(request: Request) -> Response:
    await check_csrf(request)
    form = await request.form()
    username = str(form.get("username", "")).strip()[:64]
    password = str(form.get("password", ""))[:256]
    address = client_ip(request) or "-"
    services = request.app.state.services
    secret = services.settings.signing_key()
    pair_key = "pair:" + key_of(secret, username.lower(), address)
    address_key = "addr:" + key_of(secret, address)
    per_pair, per_address = _backoffs(request)
    wait = max(await per_pair.wait(pair_key), await per_address.wait(address_key))
    if wait:
        raise HTTPException(429, f"登录失败次数过多，请 {_wait_text(wait)}后再试",
                            headers={"Retry-After": str(wait)})
    signed_in = await authenticate(services.store, username, password) if username and password else None
    if signed_in is None:
        await per_pair.failed(pair_key)
        await per_address.failed(address_key)
        await audit(services.store, request, None, "login_failed", detail={"username": username})
        return _form(request, error="用户名或密码不正确", username=username, status=400)
    await per_pair.succeeded(pair_key)
    request.session.clear()
    session_id = await start_session(services.store, signed_in.principal.id)
    request.session.update({"uid": signed_in.principal.id, "sv": signed_in.session_version, "sid": session_id})
    csrf_token(request)
    await audit(services.store, request, signed_in.principal, "login")
    if signed_in.principal.must_change_password:
        return RedirectResponse(PASSWORD_PATH, status_code=303)
    return RedirectResponse(_safe_next(str(form.get("next", "")) or None), status_code=303)


def _password_form(request: Request, *, error: str | None = None, status: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(request, "password.html", {
        "error": error, "min_length": MIN_LENGTH,
    }, status_code=status)


@staff(*ROLES, before_password_change=True)
async def password_page(request: Request) -> Response:
    return _password_form(request)


@staff(*ROLES, before_password_change=True)
async def change_password(request: Request) -> Response:
    """修改密码: the current password, the new one twice; other sessions of the account end."""
    user = current_user(request)
    assert user is not None
    form = await request.form()
    current, new, again = (str(form.get(name, ""))[:256] for name in ("current", "new", "again"))
    if new != again:
        return _password_form(request, error="两次输入的新密码不一致", status=400)
    services = request.app.state.services
    try:
        version = await change_own_password(services.store, user.username, current, new)
    except (UserError, PasswordPolicyError) as exc:
        return _password_form(request, error=str(exc), status=400)
    request.session["sv"] = version
    await audit(services.store, request, user, "password_change")
    return RedirectResponse("/console", status_code=303)


@public
async def logout(request: Request) -> Response:
    await check_csrf(request)
    user = current_user(request)
    store = request.app.state.services.store
    session_id = request.session.get("sid")
    if isinstance(session_id, str):
        await end_session(store, session_id)  # the cookie, and any copy of it, signs no one in any more
    if user is not None:
        await audit(store, request, user, "logout")
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


routes = [
    Route("/login", login_page, methods=["GET"], name="login_page"),
    Route("/login", login, methods=["POST"], name="login"),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route(PASSWORD_PATH, password_page, methods=["GET"], name="password_page"),
    Route(PASSWORD_PATH, change_password, methods=["POST"], name="change_password"),
]
