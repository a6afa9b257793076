"""Security headers on every response, and error pages that say what went wrong in Chinese.

The CSP allows only the app's own scripts, styles and images (no inline script), because hall
intranets are offline and the citizen pages must not be scriptable by injected text.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.core.labels import (
    HTTP_ERROR_MESSAGE_DEFAULT,
    HTTP_ERROR_MESSAGES,
    HTTP_ERROR_TITLE_DEFAULT,
    HTTP_ERROR_TITLES,
)

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app, self.https = app, https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-security-policy", CSP)
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("x-frame-options", "DENY")
                headers.setdefault("referrer-policy", "no-referrer")
                headers.setdefault("permissions-policy", "camera=(), microphone=(), geolocation=()")
                headers.setdefault("cross-origin-opener-policy", "same-origin")
                if self.https:
                    headers.setdefault("strict-transport-security", "max-age=31536000")
                if not static:
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return request.url.path.startswith(("/api/", "/twilio/")) or ("json" in accept and "html" not in accept)


def _same_site_referer(request: Request) -> str | None:
    """The page the person came from, when it is one of ours, so an error page can lead back to it."""
    from urllib.parse import urlsplit

    referer = urlsplit(request.headers.get("referer", ""))
    if not referer.path.startswith("/") or referer.netloc != request.url.netloc:
        return None
    target = referer.path + (f"?{referer.query}" if referer.query else "")
    return None if target == request.url.path else target


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


async def http_error(request: Request, exc: Exception) -> Response:
    """Render an ``HTTPException`` as a short Chinese page, or as JSON for API clients.

    The page is Chinese only: a detail without Chinese (Starlette's own "Not Found", "Method Not
    Allowed") gives way to the catalogue's sentence for the status; the status code itself is kept.
    """
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "请求无法处理"
    headers = dict(exc.headers or {})
    if _wants_json(request):
        return JSONResponse({"error": detail}, status_code=exc.status_code, headers=headers)
    status = exc.status_code
    message = detail if _has_chinese(detail) else HTTP_ERROR_MESSAGES.get(status, HTTP_ERROR_MESSAGE_DEFAULT)
    templates = request.app.state.templates
    return templates.TemplateResponse(request, "error.html", {
        "status": status, "title": HTTP_ERROR_TITLES.get(status, HTTP_ERROR_TITLE_DEFAULT), "message": message,
        "back": _same_site_referer(request)}, status_code=status, headers=headers)
