"""Sign-in and sign-out pages for staff.

Failed attempts are throttled per account and per client address; the error never says whether
the account exists.  A successful sign-in starts a fresh session (new CSRF token) so a token
planted before sign-in is useless afterwards.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.auth.access import PASSWORD_PATH, check_csrf, csrf_token, current_user, public, staff
from gateway.auth.audit import audit, client_ip
from gateway.auth.passwords import MIN_LENGTH, PasswordPolicyError
from gateway.auth.roles import ROLES
from gateway.auth.throttle import Throttle
from gateway.auth.users import UserError, authenticate, change_own_password

FAILURES_PER_ACCOUNT = Throttle(limit=5, window=15 * 60)
FAILURES_PER_ADDRESS = Throttle(limit=20, window=15 * 60)


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


@public
async def login(request: Request) -> Response:
    await check_csrf(request)
    form = await request.form()
    username = str(form.get("username", "")).strip()[:64]
    password = str(form.get("password", ""))[:256]
    address = client_ip(request) or "-"
    account_key, address_key = f"user:{username.lower()}", f"ip:{address}"
    if FAILURES_PER_ACCOUNT.blocked(account_key) or FAILURES_PER_ADDRESS.blocked(address_key):
        wait = max(FAILURES_PER_ACCOUNT.retry_after(account_key), FAILURES_PER_ADDRESS.retry_after(address_key))
        raise HTTPException(429, f"登录失败次数过多，请 {max(1, wait // 60)} 分钟后再试",
                            headers={"Retry-After": str(wait)})
    services = request.app.state.services
    signed_in = await authenticate(services.store, username, password) if username and password else None
    if signed_in is None:
        FAILURES_PER_ACCOUNT.hit(account_key)
        FAILURES_PER_ADDRESS.hit(address_key)
        await audit(services.store, request, None, "login_failed", detail={"username": username})
        return _form(request, error="用户名或密码不正确", username=username, status=400)
    FAILURES_PER_ACCOUNT.reset(account_key)
    request.session.clear()
    request.session.update({"uid": signed_in.principal.id, "sv": signed_in.session_version})
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
    if user is not None:
        await audit(request.app.state.services.store, request, user, "logout")
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


routes = [
    Route("/login", login_page, methods=["GET"], name="login_page"),
    Route("/login", login, methods=["POST"], name="login"),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route(PASSWORD_PATH, password_page, methods=["GET"], name="password_page"),
    Route(PASSWORD_PATH, change_password, methods=["POST"], name="change_password"),
]
