"""Route access declarations: every endpoint is either ``@public`` or ``@staff(roles…)``.

``@staff`` checks, in order: signed in (else a redirect to the sign-in page for a browser page,
401 otherwise), one of the named roles (else 403), and for unsafe methods the CSRF token (else
403).  Town scope depends on the case, so handlers call :func:`require_town` once they know it.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.auth.roles import ROLES, Principal

Endpoint = Callable[[Request], Awaitable[Response]]
ACCESS_ATTRIBUTE = "__hcp_access__"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class Access:
    """What a route declared: public, or the roles it admits."""

    public: bool
    roles: frozenset[str] = frozenset()
    why: str = ""


def public(endpoint: Endpoint | None = None, *, why: str = "") -> Callable:  # type: ignore[type-arg]
    """Mark a route as open to anyone (citizen pages, signed webhooks that check their own signature)."""

    def mark(function: Endpoint) -> Endpoint:
        setattr(function, ACCESS_ATTRIBUTE, Access(public=True, why=why))
        return function

    return mark(endpoint) if endpoint is not None else mark


def current_user(request: Request) -> Principal | None:
    return getattr(request.state, "user", None)


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use (templates put it in every staff form)."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


async def check_csrf(request: Request) -> None:
    expected = request.session.get("csrf")
    supplied = request.headers.get(CSRF_HEADER)
    if supplied is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        supplied = (await request.form()).get(CSRF_FIELD)  # type: ignore[assignment]
    if not expected or not isinstance(supplied, str) or not secrets.compare_digest(expected, supplied):
        raise HTTPException(403, "页面已过期或来源不明（CSRF 校验失败），请刷新页面后重试")


def _wants_html(request: Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")


PASSWORD_PATH = "/password"


def staff(*roles: str, before_password_change: bool = False) -> Callable[[Endpoint], Endpoint]:
    """Admit signed-in staff holding at least one of ``roles``.

    An account that must change its password (the first admin's printed one) reaches only the
    routes marked ``before_password_change``; every other page sends it to 修改密码 first.
    """
    unknown = set(roles) - ROLES.keys()
    if unknown or not roles:
        raise ValueError(f"staff() needs known roles, got {roles!r}")
    admitted = frozenset(roles)

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            user = current_user(request)
            if user is None:
                if _wants_html(request):
                    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
                raise HTTPException(401, "请先登录")
            if user.must_change_password and not before_password_change:
                if _wants_html(request):
                    return RedirectResponse(PASSWORD_PATH, status_code=303)
                raise HTTPException(403, "请先修改初始密码（页面右上角“修改密码”）")
            if not user.roles & admitted:
                raise HTTPException(403, "您的角色无权访问此功能")
            if request.method not in SAFE_METHODS:
                await check_csrf(request)
            return await endpoint(request)

        setattr(guarded, ACCESS_ATTRIBUTE, Access(public=False, roles=admitted))
        return guarded

    return decorate


def require_town(request: Request, hall_code: str | None) -> Principal:
    """403 unless the signed-in person may act on cases of ``hall_code``."""
    user = current_user(request)
    if user is None:
        raise HTTPException(401, "请先登录")
    if not user.can_access_town(hall_code):
        raise HTTPException(403, "无权处理其他乡镇的案件")
    return user


def access_of(endpoint: object) -> Access | None:
    return getattr(endpoint, ACCESS_ATTRIBUTE, None)
