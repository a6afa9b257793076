"""Turn the signed session cookie into ``request.state.user`` (a ``Principal`` or ``None``).

The cookie (Starlette's ``SessionMiddleware``, signed with the gateway's key) holds only the user
id, the account's session version, the server-side session id (``gateway.auth.sessions``) and the
CSRF token; the session and the account are re-read on each staff request, so logging out,
disabling a user or changing a password takes effect at once.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.auth.sessions import load_session_principal


class PrincipalMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["user"] = None
        session = scope.get("session") or {}
        user_id, version, session_id = session.get("uid"), session.get("sv"), session.get("sid")
        if isinstance(user_id, int) and isinstance(version, int):
            principal = None
            if isinstance(session_id, str):
                services = scope["app"].state.services
                principal = await load_session_principal(services.store, session_id, user_id, version)
            if principal is None:
                for key in ("uid", "sv", "sid"):
                    session.pop(key, None)
            state["user"] = principal
        await self.app(scope, receive, send)
