"""A size limit on every request body, counted as the bytes arrive (a pure ASGI middleware).

Without it a 200 MB POST to ``/login`` is read whole, and a 300 MB multipart part is spooled to
disk, before any handler can say no.  The limit is chosen by path prefix (longest wins) with a
default for everything else.  A ``Content-Length`` above the limit is answered 413 before a byte
of the body is read; a body without one (chunked) is counted chunk by chunk and the read that
crosses the limit raises ``BodyTooLarge``, an ``HTTPException`` the app's error handler turns into
the usual Chinese page (or JSON for API clients).  The reverse proxy's ``client_max_body_size``
must be at least the largest limit here (see README, *Deployment*).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.ui.http_security import http_error

log = logging.getLogger(__name__)


def _size(limit: int) -> str:
    return f"{limit // 1048576} MB" if limit >= 1048576 else f"{max(1, limit // 1024)} KB"


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"提交的内容太长（超过 {_size(limit)}），请删减或分批后再提交")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, default: int, by_prefix: Mapping[str, int] | None = None) -> None:
        self.app, self.default = app, default
        self.by_prefix = sorted((by_prefix or {}).items(), key=lambda item: -len(item[0]))

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.by_prefix:
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(scope, receive, send, limit)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        log.info("request body over %d bytes refused: %s %s", limit, scope.get("method"), scope["path"])
        request = Request(scope, receive)
        response = await http_error(request, BodyTooLarge(limit))
        response.headers["connection"] = "close"
        await response(scope, receive, send)


class NulGuardMiddleware:
    """400 for a NUL character in the path or the query (``?hall=%00``): PostgreSQL refuses NUL in
    text, so such a value would otherwise end in a 500 wherever it reaches a query."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and ("\x00" in scope["path"] or b"%00" in scope["query_string"]
                                        or b"\x00" in scope["query_string"]):
            request = Request(scope, receive)
            response = await http_error(request, HTTPException(400, "链接中含有无效字符（NUL），请检查后重试"))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
