"""Account administration in the console (the same operations as ``hcp users``), for ``admin``."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.auth.access import current_user, staff
from gateway.auth.audit import audit
from gateway.auth.passwords import PasswordPolicyError
from gateway.auth.roles import ROLES
from gateway.auth.users import UserError, add_user, list_users, set_active, set_password, set_roles
from gateway.core.registry import list_halls
from gateway.ui.notices import notice, notice_url

ADD_FIELDS = ("username", "display_name", "password", "roles", "towns")


async def _page(request: Request, *, error: str | None = None, field_errors: dict[str, str] | None = None,
                typed: dict[str, object] | None = None, status: int = 200) -> Response:
    """The page; after a refused new account, ``typed`` refills its form (never the password) and
    ``field_errors`` puts each message beside its field."""
    services = request.app.state.services
    halls = await list_halls(services.store)
    return request.app.state.templates.TemplateResponse(request, "admin_users.html", {
        "users": await list_users(services.store), "roles": ROLES, "halls": halls,
        "hall_names": {h.code: h.name for h in halls},
        "error": error, "message": notice(request.query_params),
        "field_errors": field_errors or {},
        "typed": typed or {"username": "", "display_name": "", "roles": [], "towns": []},
    }, status_code=status)


@staff("admin")
async def users_page(request: Request) -> Response:
    return await _page(request)


@staff("admin")
async def users_post(request: Request) -> Response:
    """One form per operation, told apart by ``op``: add, disable, enable, password, roles."""
    user = current_user(request)
    form = await request.form()
    op = str(form.get("op", ""))
    username = str(form.get("username", "")).strip()
    roles = [str(r) for r in form.getlist("roles")]
    towns = [str(t) for t in form.getlist("towns")]
    store = request.app.state.services.store
    display_name = str(form.get("display_name", "")).strip()
    try:
        if op == "add":
            # Someone else chose this password: its owner replaces it at the first sign-in.
            await add_user(store, username, str(form.get("password", "")), roles, towns, display_name or None,
                           must_change_password=True)
        elif op in ("disable", "enable"):
            if user is not None and username == user.username and op == "disable":
                raise UserError("不能停用自己的账号")
            await set_active(store, username, op == "enable")
        elif op == "password":
            # A reset password is known to the admin; only an admin resetting their own keeps it.
            await set_password(store, username, str(form.get("password", "")),
                               must_change=user is None or username != user.username)
        elif op == "roles":
            await set_roles(store, username, roles, towns)
        else:
            raise HTTPException(400, "未知的操作")
    except (UserError, PasswordPolicyError) as exc:
        field = "password" if isinstance(exc, PasswordPolicyError) else exc.field
        if op != "add":
            return await _page(request, error=str(exc), status=400)
        typed = {"username": username, "display_name": display_name, "roles": roles, "towns": towns}
        if field in ADD_FIELDS:
            return await _page(request, field_errors={str(field): str(exc)}, typed=typed, status=400)
        return await _page(request, error=str(exc), typed=typed, status=400)
    await audit(store, request, user, f"user:{op}", target_type="user", target_id=username,
                detail={"roles": roles, "towns": towns} if op in ("add", "roles") else {})
    return RedirectResponse(notice_url("/admin/users", f"user_{op}"), status_code=303)


routes = [
    Route("/admin/users", users_page, methods=["GET"], name="admin_users"),
    Route("/admin/users", users_post, methods=["POST"], name="admin_users_post"),
]
