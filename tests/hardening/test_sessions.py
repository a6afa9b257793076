"""Logout ends the session on the server: a copy of the old cookie signs no one in (issue 23, point 2)."""

from __future__ import annotations

from gateway.app import create_app
from gateway.core.services import Services
from tests.staff import anonymous_client, make_staff, signed_in


async def test_the_old_cookie_is_refused_after_logout(services: Services) -> None:
    await make_staff(services, "wang", ["supervisor"], [])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "wang") as client, signed_in(app, "wang") as other_device:
        copied = client.cookies.get("hcp_session")
        assert copied
        assert (await client.post_form("/logout")).status_code == 303
        assert (await other_device.get("/console")).status_code == 200, "only this session ends"
    async with anonymous_client(app) as replay:
        replay.cookies.set("hcp_session", copied)
        page = await replay.get("/console")
        api = await replay.get("/console", headers={"accept": "application/json"})
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert api.status_code == 401
