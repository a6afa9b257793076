"""The staff start page: what needs doing now, for the signed-in person's roles."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.auth.access import current_user, staff
from gateway.auth.roles import ROLES
from gateway.staff_nav import staff_nav


@staff(*ROLES)
async def console(request: Request) -> Response:
    user = current_user(request)
    assert user is not None
    return request.app.state.templates.TemplateResponse(request, "console.html", {"areas": staff_nav(user)})


routes = [Route("/console", console, methods=["GET"], name="console")]
