"""Turn the signed session cookie into ``request.state.user`` (a ``Principal`` or ``None``).

The cookie (Starlette's ``SessionMiddleware``, signed with the gateway's key) holds only the user
id, the account's session version and the CSRF token; the account is re-read on each staff
request, so disabling a user or changing a password takes effect at once.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.auth.users import load_principal


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
        user_id, version = session.get("uid"), session.get("sv")
        if isinstance(user_id, int) and isinstance(version, int):
            services = scope["app"].state.services
            principal = await load_principal(services.store, user_id, version)
            if principal is None:
                session.pop("uid", None)
                session.pop("sv", None)
            state["user"] = principal
        await self.app(scope, receive, send)
